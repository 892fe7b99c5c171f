# Shared by the script benches of tests/bench/ (sourced, not run).
#
#   bench_init NAME        ROOT, PATCHLAB, TMP (removed at exit), OUT_JSON
#                          (runs/bench/NAME.json), every rack started with
#                          rack_up is taken down at exit, whatever happens
#   rack_up DIR N PROFILES SPEED   a virtual rack; RACK_PID set
#   rack_up_per_profile DIR PER SPEED PROFILE...   PER boards of each
#   rack_ticks DIR         CPU time (user+sys, clock ticks) of DIR's rack
#   scen_dir DIR FILE...   DIR/{lib/,suites/,FILE...}: a scenarios tree of
#                          its own with scenarios/lib and the named scenarios
#   timed OUTFILE CMD...   run CMD under GNU time; OUTFILE gets
#                          "wall_s user_s sys_s maxrss_kib"; returns CMD's rc
#   sched PID              "run_ns runq_wait_ns" summed over PID's threads
#                          (/proc/PID/task/*/schedstat): CPU time, and time
#                          runnable but waiting for a CPU
#   timed_sched OUT SCHED CMD...   timed, and SCHED gets CMD's last
#                          "run_ns runq_wait_ns" (sampled every 0.1 s)
#   machine_json           {"nproc":..,"cpu":"..","date":".."}
#   bench_wall             seconds since bench_init
#
# Environment: PATCHLAB (the program; else $BUILD/controller/patchlab),
# BUILD (default build), PL_SOURCE_DIR (default: this tree),
# PL_BENCH_OUT (default $ROOT/runs/bench), PL_BENCH_KEEP=1 keeps TMP.
set -uo pipefail

bench_init() {
	BENCH_NAME=$1
	ROOT=${PL_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
	PATCHLAB=${PATCHLAB:-$ROOT/${BUILD:-build}/controller/patchlab}
	if [ ! -x "$PATCHLAB" ]; then
		echo "$BENCH_NAME: $PATCHLAB is not built" >&2
		exit 2
	fi
	local out=${PL_BENCH_OUT:-$ROOT/runs/bench}
	mkdir -p "$out" || exit 2
	OUT_JSON=$out/$BENCH_NAME.json
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/pl-bench-$BENCH_NAME-XXXXXX") || exit 2
	BENCH_RACKS=()
	BENCH_T0=$(date +%s.%N)
	CLK_TCK=$(getconf CLK_TCK)
	NPROC=$(nproc)
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

bench_cleanup() {
	local d
	for d in "${BENCH_RACKS[@]+"${BENCH_RACKS[@]}"}"; do
		"$PATCHLAB" vrack down --dir "$d" >/dev/null 2>&1 || true
	done
	if [ -n "${PL_BENCH_KEEP:-}" ]; then
		echo "$BENCH_NAME: kept $TMP" >&2
	elif [ -n "${TMP:-}" ]; then
		rm -rf "$TMP"
	fi
}

rack_up() {
	local dir=$1 n=$2 profiles=$3 speed=$4
	BENCH_RACKS+=("$dir")
	if ! "$PATCHLAB" vrack up --dir "$dir" --boards "$n" --profile "$profiles" \
		--speed "$speed" --seed 1 >"$dir.up.log" 2>&1; then
		echo "$BENCH_NAME: vrack up failed:" >&2
		cat "$dir.up.log" >&2
		exit 2
	fi
	RACK_PID=$(cat "$dir/rack.pid")
}

rack_up_per_profile() {
	local dir=$1 per=$2 speed=$3 list="" p
	shift 3
	for p in "$@"; do
		for _ in $(seq "$per"); do list="$list${list:+,}$p"; done
	done
	rack_up "$dir" $(( $# * per )) "$list" "$speed"
}

rack_down() {
	"$PATCHLAB" vrack down --dir "$1" >/dev/null 2>&1 || true
}

rack_ticks() {
	local pid
	pid=$(cat "$1/rack.pid")
	# fields after the ")" of comm: utime is field 14, stime 15
	sed 's/^.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}'
}

scen_dir() {
	local d=$1 f
	shift
	mkdir -p "$d/suites" || exit 2
	cp -r "$ROOT/scenarios/lib" "$d/lib" || exit 2
	for f in "$@"; do
		cp "$ROOT/scenarios/$f" "$d/$f" || exit 2
	done
}

timed() {
	local out=$1
	shift
	local rc
	/usr/bin/time -f '%e %U %S %M' -o "$out.raw" "$@"
	rc=$?
	# GNU time puts "Command exited with non-zero status N" first
	tail -n 1 "$out.raw" >"$out"
	return $rc
}

sched() {
	cat /proc/"$1"/task/*/schedstat 2>/dev/null |
		awk '{r += $1; w += $2} END {printf "%d %d\n", r, w}'
}

timed_sched() {
	local out=$1 so=$2 tp pid s rc
	shift 2
	/usr/bin/time -f '%e %U %S %M' -o "$out.raw" "$@" &
	tp=$!
	echo "0 0" >"$so"
	pid=
	while kill -0 "$tp" 2>/dev/null; do
		[ -z "$pid" ] && pid=$(cat /proc/"$tp"/task/"$tp"/children 2>/dev/null | awk '{print $1}')
		if [ -n "$pid" ]; then
			s=$(sched "$pid")
			[ "$s" != "0 0" ] && echo "$s" >"$so"
		fi
		sleep 0.1
	done
	wait "$tp"
	rc=$?
	tail -n 1 "$out.raw" >"$out"
	return $rc
}

machine_json() {
	local cpu
	cpu=$(grep -m1 '^model name' /proc/cpuinfo | sed 's/^[^:]*: *//; s/"/\\"/g')
	printf '{"nproc": %d, "cpu": "%s", "loadavg_at_end": "%s", "date": "%s"}' "$NPROC" "${cpu:-unknown}" "$(cut -d" " -f1-3 /proc/loadavg)" \
		"$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}

bench_wall() {
	echo "$(date +%s.%N) $BENCH_T0" | awk '{printf "%.1f", $1 - $2}'
}

# calc EXPR: awk arithmetic, printed with %.3g unless a format is given
calc() {
	awk "BEGIN { printf \"${2:-%.4g}\", ($1) }"
}
