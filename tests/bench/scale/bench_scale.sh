#!/usr/bin/env bash
# bench_scale: one controller running a scenario on 1,000 virtual boards at
# once (boot_version.lua: power on, wait_boot, version, power off; one run
# per board, -j BOARDS). Reports the controller's peak RSS (rusage), CPU,
# wall time, and the slowest run's extra latency: its duration minus the
# median run's. Target: peak RSS <= 200 MB.
# Writes runs/bench/scale.json. Not a test: asserts nothing.
#
#   bench_scale.sh [BOARDS]     (default 1000)
# Environment: see tests/bench/lib/bench_lib.sh.
. "$(dirname "$0")/../lib/bench_lib.sh"
bench_init scale

N=${1:-1000}
SPEED=20
SC=$TMP/scenarios
scen_dir "$SC"
cp "$(dirname "$0")/boot_version.lua" "$SC/" || exit 2
cat >"$SC/suites/scale.yaml" <<EOF
name: scale-$N
defaults:
  run_timeout: 5m
runs:
  - scenario: boot_version.lua
EOF

rack=$TMP/rack
t=$(date +%s.%N)
rack_up "$rack" "$N" good "$SPEED"
up_s=$(calc "$(date +%s.%N) - $t" %.1f)
t0=$(rack_ticks "$rack")
VRACK=$rack timed "$TMP/time" "$PATCHLAB" run "$SC/suites/scale.yaml" \
	--lab "$rack/lab.yaml" --out "$TMP/out" --seed 1 -j "$N" --quiet \
	>"$TMP/run.log" 2>&1
rc=$?
t1=$(rack_ticks "$rack")
rack_down "$rack"
if [ $rc -ne 0 ]; then
	echo "scale: patchlab run on $N boards: exit $rc" >&2
	grep -v '^ *[0-9]' "$TMP/run.log" | tail -20 >&2
fi
read -r wall user sys rss <"$TMP/time"
db=$TMP/out/patchlab.db
sqlite3 "$db" "SELECT duration_ns FROM runs WHERE duration_ns IS NOT NULL
		ORDER BY duration_ns" >"$TMP/durations"
runs=$(wc -l <"$TMP/durations")
read -r pass labs < <(sqlite3 -separator ' ' "$db" \
	"SELECT sum(verdict = 'pass'), sum(verdict = 'lab-error') FROM runs")
med=$(awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)] + 0}' "$TMP/durations")
max=$(tail -n 1 "$TMP/durations")
p99=$(awk '{a[NR] = $1} END {i = int(NR * 0.99); if (i < 1) i = 1; print a[i] + 0}' "$TMP/durations")
# the spread of starts: the last run's start minus the first's
read -r spread < <(sqlite3 "$db" "SELECT (max(started) - min(started)) / 1e9 FROM runs")
ctl=$(calc "$user + $sys" %.2f)
rack_s=$(calc "($t1 - $t0) / $CLK_TCK" %.2f)

printf '%-28s %s\n' \
	"boards / runs" "$N / $runs (pass ${pass:-0}, lab-error ${labs:-0}, exit $rc)" \
	"vrack up" "$up_s s" \
	"run wall" "$wall s" \
	"controller peak RSS" "$(calc "$rss / 1024" %.1f) MiB (target <= 200 MB)" \
	"controller CPU" "$ctl s ($(calc "100 * $ctl / $wall" %.0f)% of one core)" \
	"rack CPU during the run" "$rack_s s" \
	"run duration median" "$(calc "$med / 1e6" %.0f) ms" \
	"run duration p99" "$(calc "$p99 / 1e6" %.0f) ms" \
	"slowest run" "$(calc "$max / 1e6" %.0f) ms" \
	"slowest extra latency" "$(calc "($max - $med) / 1e6" %.0f) ms" \
	"spread of run starts" "$(calc "$spread" %.2f) s"
wallb=$(bench_wall)
cat >"$OUT_JSON" <<EOF
{"bench": "scale", "machine": $(machine_json), "wall_s": $wallb,
  "target": "ctl_max_rss <= 200 MB",
  "boards": $N, "speed": $SPEED, "runs": $runs, "pass": ${pass:-0},
  "lab_errors": ${labs:-0}, "exit": $rc, "vrack_up_s": $up_s,
  "run_wall_s": $wall, "ctl_max_rss_kib": $rss, "ctl_cpu_s": $ctl,
  "rack_cpu_s": $rack_s, "run_median_ms": $(calc "$med / 1e6" %.1f),
  "run_p99_ms": $(calc "$p99 / 1e6" %.1f), "run_max_ms": $(calc "$max / 1e6" %.1f),
  "slowest_extra_ms": $(calc "($max - $med) / 1e6" %.1f),
  "start_spread_s": $(calc "$spread" %.3f)}
EOF
echo "scale: ${wallb} s; figures in $OUT_JSON"
