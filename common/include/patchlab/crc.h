/* SPDX-License-Identifier: MIT */
/*
 * The CRC of GDB's `qCRC:addr,length` packet (and of OpenOCD's
 * checksum_memory): CRC-32 with polynomial 0x04c11db7, most significant bit
 * first, no reflection and no final inversion (CRC-32/MPEG-2 when started
 * at 0xffffffff, as GDB does). A probe driver compares a target's memory
 * with an image through it without reading the memory back; the virtual
 * rack's GDB server answers it.
 */
#ifndef PATCHLAB_CRC_H
#define PATCHLAB_CRC_H

#include <stddef.h>
#include <stdint.h>

#define PL_GDB_CRC_INIT 0xffffffffu

/* Continue crc over len bytes of buf. */
uint32_t pl_gdb_crc32(uint32_t crc, const void *buf, size_t len);

#endif
