/* debpkg: Debian package names (contract in debpkg.h). */
#include "common/debpkg.h"

#include <string.h>

int debpkg_name_ok(const char *s)
{
	size_t n;

	if (!s)
		return 0;
	n = strlen(s);
	if (n == 0 || n > DEBPKG_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '+' && c != '.' && c != '-')))
			return 0;
	}
	return 1;
}
