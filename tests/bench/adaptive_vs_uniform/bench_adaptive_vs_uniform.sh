#!/usr/bin/env bash
# bench_adaptive_vs_uniform: how many power cycles an adaptive sweep needs
# to bound the brick windows of an update, against cutting before every
# flash operation. For each defective profile (single-slot, trailer-first,
# no-verify, single-metadata) on its own boards of one virtual rack (speed
# 20), runs scenarios/suites/windows.yaml as shipped (adaptive, phase
# before, 8 coarse points) and the same sweep with `strategy: exhaustive`
# (points: all), and reports:
#   - runs:  cut runs each needed (the learning pass left out), and the
#            ratio adaptive / exhaustive (target <= 20%);
#   - edges: the window edges each bounded. An edge is a pair of
#            neighbouring operations k, k+1 whose outcomes differ (device
#            failure: bricked, recovered, fail; or not), as the engine's
#            bisection sees them. "same" says whether the adaptive sweep
#            bounded exactly the exhaustive sweep's edges; edges it left
#            open (neighbours more than one op apart) and edges it never
#            saw (a window between two coarse points) are listed, and so
#            are cut points both sweeps ran whose outcomes differ (the same
#            cut giving two answers: nothing to do with the strategy).
# The profiles run side by side, one controller each. Writes
# runs/bench/adaptive_vs_uniform.json. Not a test: asserts nothing.
#
#   bench_adaptive_vs_uniform.sh [PROFILE...]
# Environment: see tests/bench/lib/bench_lib.sh; PL_BENCH_BOARDS boards per
# profile (default 2).
. "$(dirname "$0")/../lib/bench_lib.sh"
bench_init adaptive_vs_uniform

PROFILES=("$@")
[ ${#PROFILES[@]} -eq 0 ] && PROFILES=(single-slot trailer-first no-verify single-metadata)
PER=${PL_BENCH_BOARDS:-2}
SPEED=20
SC=$TMP/scenarios
scen_dir "$SC" cut_flash_op.lua
# windows.yaml as shipped but for run_timeout (20 s: a cut run takes under
# 5 s here, and a stuck one would cost a minute), and its exhaustive twin
sed 's/run_timeout: .*/run_timeout: 20s/' "$ROOT/scenarios/suites/windows.yaml" \
	>"$SC/suites/windows.yaml"
sed 's/strategy: adaptive/strategy: exhaustive/; s/points: [0-9]*/points: all/; s/^name: windows/name: windows-exhaustive/' \
	"$SC/suites/windows.yaml" >"$SC/suites/windows-exhaustive.yaml"

rack=$TMP/rack
rack_up_per_profile "$rack" "$PER" "$SPEED" "${PROFILES[@]}"

# one profile: adaptive, then exhaustive, on its own boards
run_profile() {
	local p=$1 s suite rc
	for s in adaptive exhaustive; do
		suite=$SC/suites/windows.yaml
		[ $s = exhaustive ] && suite=$SC/suites/windows-exhaustive.yaml
		VRACK=$rack PROFILE=$p timed "$TMP/time-$p-$s" "$PATCHLAB" run "$suite" \
			--lab "$rack/lab.yaml" --tag "$p" -j "$PER" --out "$TMP/out-$p-$s" \
			--seed 1 --quiet >"$TMP/run-$p-$s.log" 2>&1
		rc=$?
		echo $rc >"$TMP/rc-$p-$s"
		if [ $rc -gt 1 ]; then
			echo "adaptive_vs_uniform: $p $s: exit $rc" >&2
			grep -v '^ *[0-9]' "$TMP/run-$p-$s.log" | tail -8 >&2
		fi
	done
}
pids=()
for p in "${PROFILES[@]}"; do
	run_profile "$p" &
	pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
rack_down "$rack"

# "k class" per cut run, sorted by k; class 1 failure, 0 not, -1 lab error
outcomes() {
	sqlite3 -separator ' ' "$1" "SELECT json_extract(cut, '$.op_index'),
		CASE WHEN verdict IN ('bricked', 'recovered', 'fail') THEN 1
		     WHEN verdict = 'lab-error' THEN -1 ELSE 0 END
		  FROM runs WHERE json_extract(cut, '$.phase') = 'before'
		 ORDER BY 1"
}
# edges of a sorted "k class" list: "k" for bounded ones (k, k+1 differ),
# "k..k2" for open ones (outcomes differ across a gap); lab errors skipped
edges() {
	awk '$2 >= 0 { if (NR > 1 && have && $2 != c) {
			if ($1 == k + 1) printf "%d ", k; else printf "%d..%d ", k, $1 }
		k = $1; c = $2; have = 1 }'
}

printf '%-16s %9s %9s %7s %-5s %s\n' profile adaptive exhaustive ratio same "edges (exhaustive | adaptive)"
json=""
for p in "${PROFILES[@]}"; do
	da=$TMP/out-$p-adaptive/patchlab.db
	de=$TMP/out-$p-exhaustive/patchlab.db
	na=$(sqlite3 "$da" "SELECT count(*) FROM runs WHERE json_extract(cut, '$.phase') = 'before'")
	ne=$(sqlite3 "$de" "SELECT count(*) FROM runs WHERE json_extract(cut, '$.phase') = 'before'")
	la=$(sqlite3 "$da" "SELECT count(*) FROM runs WHERE verdict = 'lab-error'")
	le=$(sqlite3 "$de" "SELECT count(*) FROM runs WHERE verdict = 'lab-error'")
	ea=$(outcomes "$da" | edges)
	ee=$(outcomes "$de" | edges)
	# bounded adaptive edges vs exhaustive edges
	ba=$(tr ' ' '\n' <<<"$ea" | grep -v '\.\.' | grep . | tr '\n' ' ')
	if [ "$ba" = "$ee" ] && ! grep -q '\.\.' <<<"$ea"; then same=yes; else same=no; fi
	missed=$(comm -13 <(tr ' ' '\n' <<<"$ba" | grep . | sort) <(tr ' ' '\n' <<<"$ee" | grep . | sort) | tr '\n' ' ')
	# points both sweeps cut at whose outcome differs: the same cut giving
	# two answers (not a property of the strategy)
	differ=$(join <(outcomes "$da" | sort -k1,1) <(outcomes "$de" | sort -k1,1) |
		awk '$2 >= 0 && $3 >= 0 && $2 != $3 { printf "%d ", $1 }')
	ratio=$(calc "$ne > 0 ? 100 * $na / $ne : 0" %.1f)
	read -r wa _ <"$TMP/time-$p-adaptive"
	read -r we _ <"$TMP/time-$p-exhaustive"
	printf '%-16s %9s %9s %6s%% %-5s %s| %s\n' "$p" "$na" "$ne" "$ratio" "$same" \
		"${ee:-none }" "${ea:-none }"
	[ -n "$missed" ] && echo "  edges the adaptive sweep did not bound: $missed"
	[ -n "$differ" ] && echo "  same cut point, different outcome in the two sweeps at op: $differ"
	[ "$la$le" != 00 ] && echo "  lab errors: adaptive $la, exhaustive $le"
	json="$json${json:+,
    }{\"profile\": \"$p\", \"adaptive_runs\": $na, \"exhaustive_runs\": $ne, \"ratio_pct\": $ratio, \"same_edges\": \"$same\", \"exhaustive_edges\": \"${ee% }\", \"adaptive_edges\": \"${ea% }\", \"not_bounded_by_adaptive\": \"${missed% }\", \"outcome_differs_at\": \"${differ% }\", \"lab_errors_adaptive\": $la, \"lab_errors_exhaustive\": $le, \"exit_adaptive\": $(cat "$TMP/rc-$p-adaptive"), \"exit_exhaustive\": $(cat "$TMP/rc-$p-exhaustive"), \"wall_s_adaptive\": $wa, \"wall_s_exhaustive\": $we}"
done
echo "(an edge k: ops k and k+1 differ; a..b: differ, not bounded; target: adaptive <= 20% of exhaustive runs)"
wallb=$(bench_wall)
cat >"$OUT_JSON" <<EOF
{"bench": "adaptive_vs_uniform", "machine": $(machine_json), "wall_s": $wallb,
  "speed": $SPEED, "boards_per_profile": $PER,
  "target": "adaptive runs <= 20% of exhaustive, same window edges",
  "profiles": [
    $json
  ]}
EOF
echo "adaptive_vs_uniform: ${wallb} s; figures in $OUT_JSON"
