/* SPDX-License-Identifier: MIT */
/*
 * Where patchlab's shipped data is: the board types (boards/), the
 * scenario library and suites (scenarios/). Nothing of the source tree is
 * compiled in: the data is found relative to the running program, as
 * <bindir>/../share/patchlab, which `cmake --install` lays out and the
 * build tree mirrors (build/share/patchlab links to the sources).
 *
 * PL_DATA_DIR in the environment overrides it (tests run helper programs
 * from other folders of the build tree).
 */
#ifndef PATCHLAB_DATADIR_H
#define PATCHLAB_DATADIR_H

#include <stddef.h>

/*
 * The data directory, absolute, without a trailing slash, in buf (size n).
 * Returns 0, -ENOENT when there is none (a program run from elsewhere with
 * no PL_DATA_DIR), or -ENAMETOOLONG.
 */
int pl_data_dir(char *buf, size_t n);

/* pl_data_dir() + "/" + rel in buf; the same returns. */
int pl_data_path(char *buf, size_t n, const char *rel);

#endif
