#!/usr/bin/env bash
# bench_lab_overhead: what the lab adds to a run the board dominates.
# boot_update.lua (factory flash through the probe; then, measured: power
# on, boot, XMODEM update, power off) runs REPEAT times on one `good` board
# at speed 1. The measured part of a run goes from the baseline's power-on
# event to the verdict event (events.t_ns); the probe flash before it is
# left out (the rack does not time it: it is lab time, not board time).
# The board's own time in that part is estimated two ways and subtracted:
#   - datasheet: erases x 45 ms + programs x 0.4 ms (flash ops from the op
#     counter, erases from the console's "erase sector" lines) + bytes the
#     board printed x 87 us (115200 baud). Leaves out the firmware's DELAY
#     operations (boot), so it overstates the controller's share;
#   - two speeds: the same at speed FAST; the board's time scales as
#     1/speed, the controller's does not, so board = (d1 - dFAST) x
#     FAST / (FAST - 1) on the median run durations.
# The controller's share = (measured part - board time) / measured part.
# Also reports the whole `patchlab run` wall time (start, store, reports).
# Runs that did not pass are left out and counted (run_timeout 20 s bounds
# a stuck one: a clean run takes under 2 s).
# Writes runs/bench/lab_overhead.json. Not a test: asserts nothing.
#
#   bench_lab_overhead.sh [REPEAT] [FAST]     (default 10 50)
# Environment: see tests/bench/lib/bench_lib.sh.
. "$(dirname "$0")/../lib/bench_lib.sh"
bench_init lab_overhead

REPEAT=${1:-10}
FAST=${2:-50}
SC=$TMP/scenarios
scen_dir "$SC"
cp "$(dirname "$0")/boot_update.lua" "$SC/" || exit 2
cat >"$SC/suites/overhead.yaml" <<EOF
name: lab-overhead
images:
  golden: {path: "\${VRACK}/images/v1.0.0.img", version: 1.0.0}
  factory: "\${VRACK}/images/factory-good.bin"
  new: {path: "\${VRACK}/images/v1.1.0.img", version: 1.1.0}
defaults:
  run_timeout: 20s
runs:
  - scenario: boot_update.lua
    repeat: $REPEAT
EOF

# run_at SPEED: a fresh rack, the suite; leaves $TMP/out$SPEED
run_at() {
	local s=$1 rack=$TMP/rack$1 rc
	rack_up "$rack" 1 good "$s"
	VRACK=$rack timed "$TMP/time$s" "$PATCHLAB" run "$SC/suites/overhead.yaml" \
		--lab "$rack/lab.yaml" --out "$TMP/out$s" --seed 1 --quiet \
		>"$TMP/run$s.log" 2>&1
	rc=$?
	rack_down "$rack"
	if [ $rc -ne 0 ]; then
		echo "lab_overhead: patchlab run at speed $s: exit $rc" >&2
		tail -20 "$TMP/run$s.log" >&2
	fi
	return $rc
}

# id|part_ns|reason|console_log of every passing run in DB: part = the verdict
# event minus the power-on event (the scenario's only one, in the baseline)
parts() {
	sqlite3 "$1" "SELECT r.id, v.t_ns - (SELECT min(t_ns) FROM events p
		        WHERE p.run_id = r.id AND p.kind = 'power'
		          AND coalesce(json_extract(p.payload, '$.cmd'),
		                       json_extract(p.payload, '$.state')) = 'on'),
		       r.reason, r.console_log
		  FROM runs r JOIN events v ON v.run_id = r.id AND v.kind = 'verdict'
		 WHERE r.verdict = 'pass'
		 ORDER BY r.id"
}

median() {
	sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)] + 0}'
}

run_at 1
rc1=$?
run_at "$FAST"
rcf=$?

db=$TMP/out1/patchlab.db
printf '%-4s %8s %9s %7s %9s %8s %10s %9s\n' run part_ms flash_ops erases printed_B board_ms lab_ms lab_share
: >"$TMP/rows"
while IFS='|' read -r id dur reason log; do
	[ -n "$dur" ] || { echo "$id: no power-on or verdict event; skipped" >&2; continue; }
	ops=${reason#flash_ops=}
	[ "$ops" = "$reason" ] && ops=0
	case $log in /*) ;; *) log=$TMP/out1/${log#*/out1/} ;; esac
	[ -f "$log" ] || log=$(dirname "$db")/console/$(basename "$log")
	# the text the board printed, chunks joined (the log escapes bytes)
	text=$(awk '$2 == "r" { sub(/^[^ ]+ [^ ]+ [^ ]+ /, ""); printf "%s", $0 }' "$log")
	erases=$(grep -o 'erase sector' <<<"$text" | wc -l)
	printed=$(awk '$2 == "r" { n += $3 } END { print n + 0 }' "$log")
	board_ms=$(calc "$erases * 45 + ($ops - $erases) * 0.4 + $printed * 0.087" %.1f)
	run_ms=$(calc "$dur / 1e6" %.1f)
	lab_ms=$(calc "$run_ms - $board_ms" %.1f)
	share=$(calc "100 * $lab_ms / $run_ms" %.1f)
	printf '%-4s %8s %9s %7s %9s %8s %10s %8s%%\n' "$id" "$run_ms" "$ops" \
		"$erases" "$printed" "$board_ms" "$lab_ms" "$share"
	echo "$id $run_ms $ops $erases $printed $board_ms $lab_ms $share" >>"$TMP/rows"
done < <(parts "$db")

failed=$(sqlite3 "$db" "SELECT count(*) FROM runs WHERE verdict != 'pass'")
failedf=$(sqlite3 "$TMP/out$FAST/patchlab.db" "SELECT count(*) FROM runs WHERE verdict != 'pass'")
med1=$(parts "$db" | cut -d'|' -f2 | median)
medf=$(parts "$TMP/out$FAST/patchlab.db" | cut -d'|' -f2 | median)
ds_share=$(awk '{print $8}' "$TMP/rows" | median)
ds_lab=$(awk '{print $7}' "$TMP/rows" | median)
board2=$(calc "($med1 - $medf) * $FAST / ($FAST - 1) / 1e6" %.1f)
lab2=$(calc "$med1 / 1e6 - $board2" %.1f)
share2=$(calc "100 * $lab2 / ($med1 / 1e6)" %.1f)
read -r wall1 _ <"$TMP/time1"
echo
printf '%-40s %s\n' \
	"median measured part at speed 1 / $FAST" "$(calc "$med1 / 1e6" %.1f) ms / $(calc "$medf / 1e6" %.1f) ms" \
	"controller share, datasheet (median)" "$ds_share% ($ds_lab ms a run; an upper bound: boot DELAYs not counted)" \
	"controller share, two speeds" "$share2% (board $board2 ms, lab $lab2 ms a run)" \
	"patchlab run wall at speed 1" "$wall1 s for $REPEAT runs" \
	"runs that did not pass (left out)" "$failed at speed 1, $failedf at speed $FAST"
wallb=$(bench_wall)
rows=$(awk 'BEGIN {sep = ""} {printf "%s{\"run\": %d, \"part_ms\": %s, \"flash_ops\": %d, \"erases\": %d, \"printed_bytes\": %d, \"board_ms\": %s, \"lab_ms\": %s, \"lab_share_pct\": %s}", sep, $1, $2, $3, $4, $5, $6, $7, $8; sep = ",\n    "}' "$TMP/rows")
cat >"$OUT_JSON" <<EOF
{"bench": "lab_overhead", "machine": $(machine_json), "wall_s": $wallb,
  "repeat": $REPEAT, "exit_speed1": $rc1, "exit_fast": $rcf, "fast_speed": $FAST,
  "median_part_ms_speed1": $(calc "$med1 / 1e6" %.1f),
  "median_part_ms_fast": $(calc "$medf / 1e6" %.1f),
  "datasheet_lab_share_pct": $ds_share, "datasheet_lab_ms": $ds_lab,
  "two_speed_board_ms": $board2, "two_speed_lab_ms": $lab2,
  "two_speed_lab_share_pct": $share2, "patchlab_run_wall_s": $wall1,
  "not_passed_speed1": $failed, "not_passed_fast": $failedf,
  "runs": [
    $rows
  ]}
EOF
echo "lab_overhead: ${wallb} s; figures in $OUT_JSON"
