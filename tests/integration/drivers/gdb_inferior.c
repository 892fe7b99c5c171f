/* SPDX-License-Identifier: MIT */
/*
 * The program debugged in the gdbserver test: it prints where marker() is
 * and its first code bytes, then calls marker() once per byte read from
 * stdin, and exits at end of input.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile unsigned calls;

static __attribute__((noinline)) void marker(void)
{
	calls++;
}

int main(void)
{
	uintptr_t addr = (uintptr_t)&marker;
	unsigned char code[8];
	char c;

	memcpy(code, (const void *)addr, sizeof(code));
	printf("%" PRIxPTR, addr);
	for (size_t i = 0; i < sizeof(code); i++)
		printf(" %02x", code[i]);
	printf("\n");
	fflush(stdout);
	while (read(0, &c, 1) == 1)
		marker();
	return calls == 0;
}
