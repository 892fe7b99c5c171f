#!/usr/bin/env bash
# bench_reaction BARE: console line -> relay, patchlab against a bare loop,
# with every core busy (issue 11 item 7: "reaction p99 no worse than a bare
# single-purpose loop on the same machine in the same run", measured with
# an independent meter).
#
# One virtual gateway (speed 1) is switched on and off again the moment it
# prints "gw: boot ok", CUTS times a round: by `patchlab run` (a scenario
# arming fault.cut{on = "console", pattern = "^gw: boot ok"} before each
# power-on: console driver, line matcher, trigger, LCUS relay driver, all on
# the controller's loop) and by bench_reaction_bare (poll, read, memmem,
# write: nothing else). The meter is the virtual board itself, another
# process: it logs each power-off as "power off X ms after '<line>'",
# measured from the instant the line left the board to the instant the
# relay frame switched it off (rack.log). Rounds alternate the two, while
# one busy loop per core runs at the same priority the whole time.
#
# Prints median / p90 / p99 / max per subject and writes
# runs/bench/reaction.json. Not a test: asserts nothing; exit 2 when a
# subject could not run.
#
# Environment (and tests/bench/lib/bench_lib.sh's): PL_BENCH_ROUNDS (4),
# PL_BENCH_CUTS (cuts per subject a round, 50), PL_BENCH_SPIN (busy loops,
# default one per core; 0 for an idle machine).
. "$(dirname "$0")/../lib/bench_lib.sh"
bench_init reaction

BARE=${1:?usage: bench_reaction.sh BARE_PROGRAM}
ROUNDS=${PL_BENCH_ROUNDS:-4}
CUTS=${PL_BENCH_CUTS:-50}
SPIN=${PL_BENCH_SPIN:-$NPROC}
HERE=$(cd "$(dirname "$0")" && pwd)

rack=$TMP/rack
BENCH_RACKS+=("$rack")
if ! "$PATCHLAB" vrack up --dir "$rack" --family gateway --boards 1 \
	--profile good --speed 1 >"$TMP/up.log" 2>&1; then
	echo "reaction: vrack up failed:" >&2
	cat "$TMP/up.log" >&2
	exit 2
fi
mkdir -p "$TMP/sc/suites"
cp "$HERE/scenarios/reaction.lua" "$TMP/sc/"
sed "s/cuts: 50/cuts: $CUTS/" "$HERE/scenarios/suites/reaction.yaml" \
	>"$TMP/sc/suites/reaction.yaml"

spinners=()
stop_spin() {
	local p
	for p in "${spinners[@]+"${spinners[@]}"}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	bench_cleanup
}
trap stop_spin EXIT
for _ in $(seq "$SPIN"); do
	( while :; do :; done ) &
	spinners+=($!)
done

# every power-off the board measured, in ms after the boot line, one a
# line; a power-off that came after a later line ("gw: boot committed",
# 20 ms after the boot line at speed 1) is so late it is written as 1000:
# a quantile that reaches those says "late"
cuts() {
	sed -n "s/.*power off \([0-9.]*\) ms after '\(.\{11\}\).*/\1 \2/p" \
		"$rack/rack.log" |
	awk '{ print ($2 " " $3 " " $4 == "gw: boot ok") ? $1 : 1000 }'
}
: >"$TMP/patchlab.ms"
: >"$TMP/bare.ms"
for r in $(seq "$ROUNDS"); do
	n0=$(cuts | wc -l)
	if ! "$PATCHLAB" run "$TMP/sc/suites/reaction.yaml" --lab "$rack/lab.yaml" \
		--db "$TMP/r$r.db" --out "$TMP/out" -q >"$TMP/run$r.log" 2>&1; then
		echo "reaction: patchlab run failed (round $r):" >&2
		tail -20 "$TMP/run$r.log" >&2
		exit 2
	fi
	n1=$(cuts | wc -l)
	if ! "$BARE" "$rack/gw0.console" "$rack/relay0.tty" 1 "$CUTS" \
		>"$TMP/bare$r.log" 2>&1; then
		echo "reaction: the bare loop failed (round $r):" >&2
		cat "$TMP/bare$r.log" >&2
		exit 2
	fi
	n2=$(cuts | wc -l)
	cuts | sed -n "$((n0 + 1)),${n1}p" >>"$TMP/patchlab.ms"
	cuts | sed -n "$((n1 + 1)),${n2}p" >>"$TMP/bare.ms"
	echo "round $r: patchlab $((n1 - n0)) cuts, bare $((n2 - n1)) cuts"
done

# "n median p90 p99 max late" of a file of numbers (1000: late)
stats() {
	sort -g "$1" | awk 'function q(x) { return x >= 1000 ? "late" : sprintf("%.3f", x) }
		{ v[NR] = $1; late += $1 >= 1000 } END {
		if (NR == 0) { print "0 - - - - 0"; exit }
		printf "%d %s %s %s %s %d\n", NR, q(v[int((NR - 1) * 0.5) + 1]),
			q(v[int((NR - 1) * 0.9) + 1]), q(v[int((NR - 1) * 0.99) + 1]),
			q(v[NR]), late }'
}
read -r pn pmed p90 p99 pmax plate < <(stats "$TMP/patchlab.ms")
read -r bn bmed b90 b99 bmax blate < <(stats "$TMP/bare.ms")
printf '%-9s %5s %9s %9s %9s %9s %5s   (ms from the line leaving the board to power off;\n' \
	subject cuts median p90 p99 max late
echo "          late: after the next line, 20 ms on)"
printf '%-9s %5s %9s %9s %9s %9s %5s\n' patchlab "$pn" "$pmed" "$p90" "$p99" "$pmax" "$plate"
printf '%-9s %5s %9s %9s %9s %9s %5s\n' bare "$bn" "$bmed" "$b90" "$b99" "$bmax" "$blate"
ratio=$(awk -v a="$p99" -v b="$b99" 'BEGIN { if (a == "late" || b == "late") print "null"; else printf "%.2f", (b > 0 ? a / b : 0) }')
js() { case $1 in late|-) echo null ;; *) echo "$1" ;; esac; }
echo "p99 patchlab / bare: $ratio ($SPIN busy loops on $NPROC cores; target: <= 1, within the rounds' spread)"
cat >"$OUT_JSON" <<JSON
{"bench": "reaction", "machine": $(machine_json), "wall_s": $(bench_wall),
  "rounds": $ROUNDS, "cuts_per_round": $CUTS, "busy_loops": $SPIN,
  "meter": "virtual gateway: power off X ms after the boot line left it",
  "late_means": "the power-off came after the board's next line (20 ms on): null in a quantile",
  "patchlab_ms": {"n": $pn, "late": $plate, "median": $(js "$pmed"), "p90": $(js "$p90"), "p99": $(js "$p99"), "max": $(js "$pmax")},
  "bare_ms": {"n": $bn, "late": $blate, "median": $(js "$bmed"), "p90": $(js "$b90"), "p99": $(js "$b99"), "max": $(js "$bmax")},
  "p99_ratio": $ratio}
JSON
echo "reaction: wrote $OUT_JSON"
