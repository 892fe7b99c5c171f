#!/usr/bin/env bash
# bench_sweep_throughput: power-cut points completed per minute on the
# virtual rack with 1, 4 and 16 `good` boards (speed 20), running a sweep of
# cut_flash_op.lua (before/during/after, uniform points) through
# `patchlab run -j N`, and where the time goes:
#   - ctl_cpu:  the controller's user+sys CPU (GNU time: its rusage);
#   - rack_cpu: the rack process's CPU over the run (/proc/PID/stat);
#   - ctl_runq / rack_runq: time each was runnable but waiting for a CPU
#               (/proc/PID/task/*/schedstat): the machine's other load;
#   - baseline: per run, the mean time from power off to power on around
#               oracle.baseline()'s probe flash of the whole factory image
#               (1 MiB over GDB RSP), against the mean run duration.
# The rest of a run's wall time is sleeping: the boards' own emulated time
# (baud rate, flash op durations / speed) and round trips.
# cuts/min counts runs with a cut point over the whole `patchlab run` wall
# time (start, learning pass and reports included); sweep cuts/min counts
# them from the first cut run's start to the last one's end.
# run_timeout is 20 s (a cut run takes under 5 s here) so a stuck run costs
# little; lab errors are counted. Writes runs/bench/sweep_throughput.json. Not a test: asserts nothing.
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
hdr() {
	printf '%-6s %5s %6s %8s %9s %8s %8s %9s %9s %8s %8s\n' "$@"
}
hdr boards cuts wall_s cuts/min sweep/min ctl_cpu% ctl_runq% rack_cpu% rack_runq% run_ms baseln_ms
for n in "${CONFIGS[@]}"; do
	p=$(points_for "$n")
	cat >"$SC/suites/sweep-$n.yaml" <<EOF
name: sweep-throughput-$n
images:
  golden: {path: "\${VRACK}/images/v1.0.0.img", version: 1.0.0}
  factory: "\${VRACK}/images/factory-\${PROFILE}.bin"
  new: {path: "\${VRACK}/images/v1.1.0.img", version: 1.1.0}
defaults:
  run_timeout: 20s
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
	read -r r0 q0 < <(sched "$RACK_PID")
	VRACK=$rack PROFILE=good timed_sched "$TMP/time$n" "$TMP/sched$n" "$PATCHLAB" run \
		"$SC/suites/sweep-$n.yaml" --lab "$rack/lab.yaml" --out "$TMP/out$n" \
		--seed 1 -j "$n" --quiet >"$TMP/run$n.log" 2>&1
	rc=$?
	t1=$(rack_ticks "$rack")
	read -r r1 q1 < <(sched "$RACK_PID")
	read -r cr cq <"$TMP/sched$n"
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
	# baseline: the first power-on of a run minus the power event before it
	read -r run_ms base_ms < <(sqlite3 -separator ' ' "$db" \
		"WITH on1 AS (SELECT run_id, min(t_ns) AS t FROM events
		               WHERE kind = 'power'
		                 AND coalesce(json_extract(payload, '$.cmd'),
		                              json_extract(payload, '$.state')) = 'on'
		               GROUP BY run_id),
		      gap AS (SELECT on1.t - (SELECT max(t_ns) FROM events e
		                               WHERE e.run_id = on1.run_id
		                                 AND e.kind = 'power' AND e.t_ns < on1.t) AS g
		                FROM on1)
		 SELECT (SELECT printf('%.0f', avg(duration_ns) / 1e6) FROM runs
		          WHERE json_extract(cut, '$.phase') != 'none'),
		        (SELECT printf('%.0f', avg(g) / 1e6) FROM gap)")
	ctl=$(calc "$user + $sys" %.2f)
	ctl_q=$(calc "100 * $cq / 1e9 / $wall" %.1f)
	rack_q=$(calc "100 * ($q1 - $q0) / 1e9 / $wall" %.1f)
	rack_s=$(calc "($t1 - $t0) / $CLK_TCK" %.2f)
	per_min=$(calc "$cuts * 60 / $wall" %.0f)
	sweep_min=$(calc "$cuts * 60 / (($last - $first) / 1e9)" %.0f)
	ctl_pct=$(calc "100 * $ctl / $wall" %.1f)
	rack_pct=$(calc "100 * $rack_s / $wall" %.1f)
	hdr "$n" "$cuts" "$wall" "$per_min" "$sweep_min" "$ctl_pct" "$ctl_q" \
		"$rack_pct" "$rack_q" "$run_ms" "$base_ms"
	[ "${labs:-0}" != 0 ] && echo "  ($labs lab-error runs among them)"
	json_rows="$json_rows${json_rows:+,
    }{\"boards\": $n, \"speed\": $SPEED, \"points_per_phase\": $p, \"cuts\": $cuts, \"lab_errors\": ${labs:-0}, \"exit\": $rc, \"wall_s\": $wall, \"cuts_per_min\": $per_min, \"sweep_cuts_per_min\": $sweep_min, \"ctl_cpu_s\": $ctl, \"ctl_cpu_pct_of_wall\": $ctl_pct, \"ctl_max_rss_kib\": $rss, \"ctl_runq_wait_pct_of_wall\": $ctl_q, \"rack_cpu_s\": $rack_s, \"rack_cpu_pct_of_wall\": $rack_pct, \"rack_runq_wait_pct_of_wall\": $rack_q, \"cut_run_mean_ms\": $run_ms, \"baseline_mean_ms\": $base_ms}"
done
echo "(cpu%/runq% are % of wall of one core: running / runnable but waiting for a CPU;"
echo " run_ms: mean cut run; baseln_ms: its probe flash of the factory image; target: >= 3000 cuts/min with 16 boards)"
wall=$(bench_wall)
cat >"$OUT_JSON" <<EOF
{"bench": "sweep_throughput", "machine": $(machine_json), "wall_s": $wall,
  "target": "cuts_per_min >= 3000 with 16 boards",
  "configs": [
    $json_rows
  ]}
EOF
echo "sweep_throughput: ${wall} s; figures in $OUT_JSON"
