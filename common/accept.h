/*
 * accept: HTTP content negotiation (RFC 9110 Accept with q-values), as the
 * simple repository API needs it (PEP 691): the server offers a list of media
 * types, the client's Accept header ranks them, the best acceptable offer wins.
 */
#ifndef KILN_ACCEPT_H
#define KILN_ACCEPT_H

#include <stddef.h>

/*
 * Pick from offers[0..n) (exact media types, no parameters) by the Accept
 * header value (NULL or "" accepts anything). Returns the index of the offer with the
 * highest q (>0); ties go to the client's more specific range, then to the
 * earlier offer. Wildcard ranges (all types, or type/any) match as usual; q is read with up to
 * three decimals; malformed elements are skipped. -1 if nothing is acceptable.
 */
int accept_choose(const char *accept, const char *const *offers, size_t n);

/*
 * The q-value (0..1000, in thousandths) that header gives to media type
 * (exact; 1000 when header is empty). Exposed for tests.
 */
int accept_quality(const char *accept, const char *type);

#endif
