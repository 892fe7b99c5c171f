/* SPDX-License-Identifier: MIT */
/* A run's seeded PRNG (math.random in the sandbox): the seed is recorded
 * with the run, so a replay draws the same numbers. */
#include <stdint.h>

#include "luahost_internal.h"

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256** (Blackman and Vigna), seeded through splitmix64. */
uint64_t pl_lua__random(struct pl_lua_run *run)
{
	uint64_t *s = run->prng;
	uint64_t r = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

void pl_lua__seed(struct pl_lua_run *run, uint64_t seed)
{
	uint64_t x = seed;

	for (int i = 0; i < 4; i++)
		run->prng[i] = splitmix64(&x);
}
