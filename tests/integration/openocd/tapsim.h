/* SPDX-License-Identifier: MIT */
/*
 * A one-TAP JTAG simulator that speaks OpenOCD's remote_bitbang protocol,
 * served on the test's loop (OpenOCD is the TCP client).
 *
 * Wire (one ASCII character per request): '0'..'7' set TCK/TMS/TDI (bits
 * 2/1/0); 'R' reads TDO (answer '0' or '1'); 'r' 's' 't' 'u' set TRST/SRST
 * (bit 1 = TRST asserted: back to Test-Logic-Reset); 'B' 'b' blink; 'Q' quit.
 *
 * The TAP: IR length 4 (captures 0b0001), instruction 0xE = IDCODE (selected
 * in Test-Logic-Reset), anything else = BYPASS. Bits shift on the rising
 * edge of TCK; TDO is the low bit of the shift register, read while TCK is
 * low, as OpenOCD's bitbang core samples it.
 */
#ifndef TAPSIM_H
#define TAPSIM_H

#include <stdint.h>

#include <uv.h>

#define TAPSIM_IR_IDCODE 0xEu

struct tapsim;

/* Listen on 127.0.0.1, a free port. *out must be freed with tapsim_close(). */
int tapsim_open(struct tapsim **out, uv_loop_t *loop, uint32_t idcode);
unsigned tapsim_port(const struct tapsim *s);
/* Characters handled so far (proof OpenOCD talked to us). */
uint64_t tapsim_requests(const struct tapsim *s);
/* Closes the listener and any connection; the memory goes when the loop
 * ran their close callbacks. Accepts NULL. */
void tapsim_close(struct tapsim *s);

#endif
