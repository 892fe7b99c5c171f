#!/usr/bin/env bash
# `patchlab check LAB` for labs of SIZES boards (default 1000 10000 30000
# 60000), each board on a virtual power and a tty console of its own.
# Prints wall time, peak RSS and the time per board per size; writes
# runs/bench/check_scale.json. See tests/bench/lib/bench_lib.sh.
. "$(dirname "${BASH_SOURCE[0]}")/../lib/bench_lib.sh"
bench_init check_scale

SIZES=${SIZES:-1000 10000 30000 60000}
rows=""
printf '%-8s %9s %11s %13s\n' boards wall_s max_rss_MiB us_per_board
for n in $SIZES; do
	lab=$TMP/lab$n.yaml
	awk -v n="$n" 'BEGIN {
		print "boards:"
		for (i = 0; i < n; i++) {
			printf "  - id: vb%d\n    type: virtual-mcu\n", i
			printf "    power: {driver: virtual}\n"
			printf "    console: {driver: tty, path: /tmp/vb%d.console}\n", i
		}
	}' >"$lab"
	if ! timed "$TMP/t$n" "$PATCHLAB" check "$lab" >/dev/null; then
		echo "check_scale: check of $n boards failed" >&2
		exit 1
	fi
	read -r wall user sys rss <"$TMP/t$n"
	per=$(awk -v w="$wall" -v n="$n" 'BEGIN { printf "%.1f", w * 1e6 / n }')
	printf '%-8s %9s %11s %13s\n' "$n" "$wall" "$((rss / 1024))" "$per"
	rows="$rows${rows:+, }{\"boards\": $n, \"wall_s\": $wall, \"user_s\": $user, \"max_rss_kib\": $rss, \"us_per_board\": $per}"
done
cat >"$OUT_JSON" <<JSON
{"bench": "check_scale", "machine": $(machine_json), "wall_s": $(bench_wall),
  "target": "check linear in the number of boards", "sizes": [$rows]}
JSON
echo "check_scale: figures in $OUT_JSON"
