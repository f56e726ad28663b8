/*
 * debpkg: Debian package names as Kiln accepts them anywhere (the job
 * message's native_packages, a finish message's missing[].package and
 * wheels[].runtime_packages, kilnctl project deps, the admin API).
 *
 * The rule is Debian policy's (section 5.6.1) with Kiln's length bound:
 * [a-z0-9][a-z0-9+.-]{0,63}. migrations/0011_native_deps.sql checks the same
 * pattern, so a name that passes here is safe to paste into a shell command
 * line or a JSON string without quoting.
 */
#ifndef KILN_DEBPKG_H
#define KILN_DEBPKG_H

/* Most native packages a project may have (the protocol's limit). */
#define DEBPKG_PROJECT_MAX 16
/* Most packages the backend adds to one project on its own (source 'auto'). */
#define DEBPKG_AUTO_MAX 4
/* Longest valid name, in bytes. */
#define DEBPKG_NAME_MAX 64

/* 1 if s is a valid Debian package name, else 0 (NULL is not). */
int debpkg_name_ok(const char *s);

#endif
