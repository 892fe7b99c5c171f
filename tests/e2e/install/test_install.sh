#!/usr/bin/env bash
# patchlab installed: `cmake --install BUILD --prefix P` lays out
# P/bin/patchlab and P/share/patchlab/{boards,scenarios}. The installed
# program, moved to another prefix, with no PL_* variable set and run from
# an unrelated directory, runs a lab repository's own suite: its own
# lab.yaml, board type and scenario, with lib.oracle taken from the
# installed scenario library. No string constant of the program names the
# source tree's data directories.
set -euo pipefail
: "${PL_BUILD_DIR:?}" "${PL_SOURCE_DIR:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/pl-e2e-install-XXXXXX")
P=$T/moved/bin/patchlab
cleanup() {
	[ -x "$P" ] && [ -d "$T/rack" ] && "$P" vrack down --dir "$T/rack" >/dev/null 2>&1
	rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

cmake --install "$PL_BUILD_DIR" --prefix "$T/prefix" >/dev/null
mv "$T/prefix" "$T/moved"   # relocatable: found next to the program
for f in bin/patchlab share/patchlab/boards/virtual-mcu.yaml \
	 share/patchlab/scenarios/lib/oracle.lua \
	 share/patchlab/scenarios/suites/smoke.yaml; do
	[ -e "$T/moved/$f" ] || fail "the install has no $f"
done
# The data it reads is not looked up in the sources: no string constant
# names the source tree's boards/ or scenarios/ (a debug build's assert
# messages do name its source files, which is no lookup).
objcopy -O binary --only-section=.rodata "$P" "$T/rodata"
for d in boards scenarios; do
	if grep -qF "$PL_SOURCE_DIR/$d" "$T/rodata"; then
		fail "bin/patchlab looks for $PL_SOURCE_DIR/$d"
	fi
done
src=$PL_SOURCE_DIR
unset PL_DATA_DIR PL_SOURCE_DIR PL_BUILD_DIR PATCHLAB PL_BOARDS_PATH

"$P" vrack up --dir "$T/rack" -n 1 --speed 20 >/dev/null
repo=$T/labrepo
mkdir -p "$repo/boards" "$repo/scenarios/suites"
sed 's/^name: virtual-mcu$/name: lab-mcu/' \
	"$T/moved/share/patchlab/boards/virtual-mcu.yaml" > "$repo/boards/lab-mcu.yaml"
sed -e 's/type: virtual-mcu/type: lab-mcu/' \
    -e 's/^  name: vrack$/  name: labrepo\n  boards_path: [boards]/' \
	"$T/rack/lab.yaml" > "$repo/lab.yaml"
grep -q 'boards_path: \[boards\]' "$repo/lab.yaml" || fail "lab.yaml not rewritten"
cat > "$repo/scenarios/own_update.lua" <<'LUA'
-- The lab's own scenario, on the oracle patchlab ships.
local oracle = require("lib.oracle")
oracle.baseline()
local boot, why = oracle.update_and_reboot(images.new)
check(boot and boot.version == images.new.version, "no new image: %s", why)
verdict.pass("own scenario, installed oracle: booted %s", boot.version)
LUA
cat > "$repo/scenarios/suites/own.yaml" <<YAML
name: own
images:
  golden: {path: "$T/rack/images/v1.0.0.img", version: 1.0.0}
  factory: "$T/rack/images/factory-good.bin"
  new: {path: "$T/rack/images/v1.1.0.img", version: 1.1.0}
runs:
  - scenario: own_update.lua
YAML

cd /
"$P" check --lab "$repo/lab.yaml" "$repo/scenarios/suites/own.yaml" >/dev/null ||
	fail "patchlab check refused the lab repository"
rc=0
"$P" run "$repo/scenarios/suites/own.yaml" --lab "$repo/lab.yaml" --out "$T/out" \
	--json "$T/out/r.json" --quiet > "$T/run.txt" 2>&1 || rc=$?
if [ "$rc" -ne 0 ]; then
	cat "$T/run.txt"
	fail "the suite exited $rc, not 0"
fi
grep -q '"verdict": *"pass"' "$T/out/r.json" || fail "no pass verdict in r.json"
grep -q 'installed oracle' "$T/out/r.json" || fail "the scenario's reason is missing"
if grep -rqF "$src" "$T/out/r.json"; then
	fail "the report names the source tree"
fi
echo "1 passed, 0 failed"
