#!/usr/bin/env bash
# Optional hardware backends: a patchlab built without the libraries of
# gpiod, ftdi, usbrelay and pdudaemon (-DPL_WITHOUT, as a machine without
# libgpiod-dev etc. builds it) still builds and runs; `patchlab drivers`
# lists each as "not built" with the reason, and a lab that uses one is a
# configuration error naming the file, the line and the driver (exit 65),
# not a crash or a device verdict.
set -euo pipefail
: "${PL_SOURCE_DIR:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/pl-e2e-optional-XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cmake -S "$PL_SOURCE_DIR" -B "$T/build" -DCMAKE_BUILD_TYPE=Release \
	"-DPL_WITHOUT=gpiod;ftdi;usbrelay;pdudaemon" > "$T/configure.txt" 2>&1 ||
	{ cat "$T/configure.txt"; fail "configure"; }
grep -q "drivers not built: ftdi;gpiod;pdudaemon;usbrelay" "$T/configure.txt" ||
	fail "configure did not list the drivers left out"
cmake --build "$T/build" -j"$(nproc)" --target patchlab > "$T/build.txt" 2>&1 ||
	{ tail -30 "$T/build.txt"; fail "build"; }
P=$T/build/controller/patchlab

"$P" drivers power > "$T/drivers.txt"
for d in gpiod ftdi usbrelay pdudaemon; do
	grep -Eq "^  $d +not built: left out of this build" "$T/drivers.txt" ||
		fail "patchlab drivers does not say $d is not built"
done
grep -Eq '^  lcus +LCUS' "$T/drivers.txt" || fail "lcus should be built"

cat > "$T/lab.yaml" <<'YAML'
lab: {name: optional}
boards:
  - id: b0
    type: virtual-mcu
    power: {driver: gpiod, chip: /dev/gpiochip0, line: 3}
    console: {driver: tty, path: /dev/null}
YAML
rc=0
PL_DATA_DIR=$PL_SOURCE_DIR "$P" check --lab "$T/lab.yaml" > "$T/check.txt" 2>&1 || rc=$?
[ "$rc" -eq 65 ] || { cat "$T/check.txt"; fail "check exited $rc, want 65"; }
grep -q "lab.yaml:5:.*power driver 'gpiod' is not built into this patchlab" "$T/check.txt" ||
	{ cat "$T/check.txt"; fail "check did not name the file, line and driver"; }
echo "1 passed, 0 failed"
