/* SPDX-License-Identifier: MIT */
/* The counting allocator of failalloc.h, through ld --wrap. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failalloc.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t nmemb, size_t n);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
int __real_vasprintf(char **out, const char *fmt, va_list ap);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t nmemb, size_t n);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
int __wrap_vasprintf(char **out, const char *fmt, va_list ap);
int __wrap_asprintf(char **out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static unsigned long fail_at; /* 0: disarmed */
static unsigned long count;
static bool failed;

void pl_fa_arm(unsigned long n)
{
	count = 0;
	failed = false;
	fail_at = n;
}

unsigned long pl_fa_disarm(void)
{
	fail_at = 0;
	return count;
}

bool pl_fa_failed(void)
{
	return failed;
}

/* true when this allocation is to fail */
static bool fail_now(void)
{
	if (!fail_at)
		return false;
	if (++count != fail_at)
		return false;
	failed = true;
	errno = ENOMEM;
	return true;
}

void *__wrap_malloc(size_t n)
{
	return fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t nmemb, size_t n)
{
	return fail_now() ? NULL : __real_calloc(nmemb, n);
}

void *__wrap_realloc(void *p, size_t n)
{
	return fail_now() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
	return fail_now() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
	return fail_now() ? NULL : __real_strndup(s, n);
}

int __wrap_vasprintf(char **out, const char *fmt, va_list ap)
{
	if (fail_now()) {
		*out = NULL; /* glibc leaves it undefined; callers test -1 */
		return -1;
	}
	return __real_vasprintf(out, fmt, ap);
}

int __wrap_asprintf(char **out, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = __wrap_vasprintf(out, fmt, ap);
	va_end(ap);
	return n;
}

void *pl_fa_malloc(size_t n)
{
	return __wrap_malloc(n);
}

void *pl_fa_realloc(void *p, size_t n)
{
	return __wrap_realloc(p, n);
}

void pl_fa_free(void *p)
{
	free(p);
}
