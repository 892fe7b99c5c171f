/* SPDX-License-Identifier: MIT */
#include <pthread.h>

#include "patchlab/crc.h"

/* Entry i: the CRC register after shifting the byte i through it. */
static uint32_t table[256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void make_table(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i << 24;

		for (int k = 0; k < 8; k++)
			c = c & 0x80000000u ? (c << 1) ^ 0x04c11db7u : c << 1;
		table[i] = c;
	}
}

uint32_t pl_gdb_crc32(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	pthread_once(&table_once, make_table);
	while (len--)
		crc = (crc << 8) ^ table[((crc >> 24) ^ *p++) & 0xff];
	return crc;
}
