#!/usr/bin/env bash
# bench_sweep_throughput: power-cut points completed per minute on the
# virtual rack with 1, 4 and 16 `good` boards (speed 20), running a sweep of
# cut_flash_op.lua (before/during/after, uniform points) through
# `patchlab run -j N`, and where the time goes:
#   - ctl_cpu:  the controller's user+sys CPU (GNU time: its rusage);
#   - rack_cpu: the rack process's CPU over the run (/proc/PID/stat);
#   - wait:     what is left of wall x nproc (the boards' own emulated time:
#               baud rate, flash op durations / speed; and other load).
# cuts/min counts runs with a cut point over the whole `patchlab run` wall
# time (start, learning pass and reports included); sweep cuts/min counts
# them from the first cut run's start to the last one's end.
# Writes runs/bench/sweep_throughput.json. Not a test: asserts nothing.
#
#   bench_sweep_throughput.sh [BOARDS...]     (default: 1 4 16)
# Environment: see tests/bench/lib/bench_lib.sh.
. "$(dirname "$0")/../lib/bench_lib.sh"
bench_init sweep_throughput

SPEED=20
CONFIGS=("$@")
[ ${#CONFIGS[@]} -eq 0 ] && CONFIGS=(1 4 16)
# points per phase, sized so each configuration takes ~15-40 s here
points_for() {
	case $1 in
	1) echo 20 ;;
	4) echo 40 ;;
	*) echo 100 ;;
	esac
}

SC=$TMP/scenarios
scen_dir "$SC" cut_flash_op.lua

rows=""
json_rows=""
printf '%-7s %6s %6s %8s %9s %11s %8s %9s %7s\n' boards cuts wall_s cuts/min \
	sweep/min ctl_cpu_s ctl_cpu% rack_cpu% wait%
for n in "${CONFIGS[@]}"; do
	p=$(points_for "$n")
	cat >"$SC/suites/sweep-$n.yaml" <<EOF
name: sweep-throughput-$n
images:
  golden: {path: "\${VRACK}/images/v1.0.0.img", version: 1.0.0}
  factory: "\${VRACK}/images/factory-\${PROFILE}.bin"
  new: {path: "\${VRACK}/images/v1.1.0.img", version: 1.1.0}
defaults:
  run_timeout: 1m
runs:
  - scenario: cut_flash_op.lua
    sweep:
      over: flash_ops
      phases: [before, during, after]
      points: $p
      strategy: uniform
EOF
	rack=$TMP/rack$n
	rack_up "$rack" "$n" good "$SPEED"
	t0=$(rack_ticks "$rack")
	VRACK=$rack PROFILE=good timed "$TMP/time$n" "$PATCHLAB" run \
		"$SC/suites/sweep-$n.yaml" --lab "$rack/lab.yaml" --out "$TMP/out$n" \
		--seed 1 -j "$n" --quiet >"$TMP/run$n.log" 2>&1
	rc=$?
	t1=$(rack_ticks "$rack")
	rack_down "$rack"
	if [ $rc -gt 1 ]; then
		echo "sweep_throughput: patchlab run on $n boards: exit $rc" >&2
		tail -20 "$TMP/run$n.log" >&2
	fi
	read -r wall user sys rss <"$TMP/time$n"
	db=$TMP/out$n/patchlab.db
	read -r cuts first last labs < <(sqlite3 -separator ' ' "$db" \
		"SELECT count(*), min(started), max(finished),
		        sum(verdict = 'lab-error')
		   FROM runs WHERE json_extract(cut, '$.phase') != 'none'")
	ctl=$(calc "$user + $sys" %.2f)
	rack_s=$(calc "($t1 - $t0) / $CLK_TCK" %.2f)
	per_min=$(calc "$cuts * 60 / $wall" %.0f)
	sweep_min=$(calc "$cuts * 60 / (($last - $first) / 1e9)" %.0f)
	ctl_pct=$(calc "100 * $ctl / $wall" %.1f)
	rack_pct=$(calc "100 * $rack_s / $wall" %.1f)
	wait_pct=$(calc "100 * (1 - ($ctl + $rack_s) / ($wall * $NPROC))" %.1f)
	printf '%-7s %6s %6s %8s %9s %11s %8s %9s %7s\n' "$n" "$cuts" "$wall" \
		"$per_min" "$sweep_min" "$ctl" "$ctl_pct" "$rack_pct" "$wait_pct"
	[ "${labs:-0}" != 0 ] && echo "  ($labs lab-error runs among them)"
	json_rows="$json_rows${json_rows:+,
    }{\"boards\": $n, \"speed\": $SPEED, \"points_per_phase\": $p, \"cuts\": $cuts, \"lab_errors\": ${labs:-0}, \"exit\": $rc, \"wall_s\": $wall, \"cuts_per_min\": $per_min, \"sweep_cuts_per_min\": $sweep_min, \"ctl_cpu_s\": $ctl, \"ctl_cpu_pct_of_wall\": $ctl_pct, \"ctl_max_rss_kib\": $rss, \"rack_cpu_s\": $rack_s, \"rack_cpu_pct_of_wall\": $rack_pct, \"wait_pct_of_all_cores\": $wait_pct}"
done
echo "(ctl%/rack% are of one core; wait% is of all $NPROC cores; target: >= 3000 cuts/min with 16 boards)"
wall=$(bench_wall)
cat >"$OUT_JSON" <<EOF
{"bench": "sweep_throughput", "machine": $(machine_json), "wall_s": $wall,
  "target": "cuts_per_min >= 3000 with 16 boards",
  "configs": [
    $json_rows
  ]}
EOF
echo "sweep_throughput: ${wall} s; figures in $OUT_JSON"
