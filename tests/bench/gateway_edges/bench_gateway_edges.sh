#!/usr/bin/env bash
# bench_gateway_edges: where the adaptive console sweeps of
# scenarios/suites/gateway-release.yaml put the edges of each defect's
# window on the virtual gateway (speed 1), against the model's edges
# (fixtures/virtual/DESIGN.md, "The gateway family"), and how many runs
# they took against an exhaustive 1 ms grid over the same delays (issue 11:
# edges within 1 ms, at most 20% of the grid's runs).
#
# One rack per profile, one after another (a quiet controller: the edges
# are timing). For each sweep (pattern) the runs sorted by delay; a window
# is a stretch of neighbouring delays where the device failed (bricked,
# recovered, fail); each edge is put halfway between the last delay of one
# kind and the first of the other, and compared with the model's. Also
# counted: lab errors, and runs started again because a cut missed its aim
# (docs/scenario-api.md). Writes runs/bench/gateway_edges.json. Not a test:
# asserts nothing.
#
#   bench_gateway_edges.sh [PROFILE...]
# Environment: see tests/bench/lib/bench_lib.sh.
. "$(dirname "$0")/../lib/bench_lib.sh"
bench_init gateway_edges
command -v jq >/dev/null || { echo "gateway_edges: needs jq" >&2; exit 2; }

PROFILES=("$@")
[ ${#PROFILES[@]} -eq 0 ] && PROFILES=(env-in-place split-activation bootcount-drain good)
SUITE=$ROOT/scenarios/suites/gateway-release.yaml

# The model's windows, ms after each line (DESIGN.md): profile, pattern,
# lo, hi. A window that starts at the line (lo 0) has one edge to find.
MODEL='[
 {"profile":"env-in-place","pattern":"^fwupdate: activating slot","lo":5,"hi":21},
 {"profile":"env-in-place","pattern":"^fwupdate: preparing slot","lo":0,"hi":16},
 {"profile":"split-activation","pattern":"^fwupdate: activating slot","lo":21,"hi":47},
 {"profile":"bootcount-drain","pattern":"^gw: boot ok","lo":0,"hi":36}
]'
# the sweeps' delay ranges, for the exhaustive 1 ms grid they stand against
GRID='{"^fwupdate: activating slot":101,"^fwupdate: preparing slot":61,"^gw: boot ok":101}'

results=()
for p in "${PROFILES[@]}"; do
	dir=$TMP/rack-$p
	BENCH_RACKS+=("$dir")
	if ! "$PATCHLAB" vrack up --dir "$dir" --family gateway --boards 1 \
		--profile "$p" >"$dir.up.log" 2>&1; then
		echo "gateway_edges: vrack up $p failed:" >&2
		cat "$dir.up.log" >&2
		exit 2
	fi
	rc=0
	(cd "$TMP" && env -u VRACK "$PATCHLAB" run "$SUITE" --lab "$dir/lab.yaml" \
		--db "$TMP/$p.db" --json "$TMP/$p.json" -q >"$TMP/$p.out" 2>&1) || rc=$?
	rack_down "$dir"
	again=$(sqlite3 "$TMP/$p.db" "SELECT count(*) FROM events WHERE kind = 'log' AND payload LIKE '%missed its aim: the run starts again%'" 2>/dev/null || echo -1)
	worst=$(sqlite3 "$TMP/$p.db" "SELECT coalesce(max(json_extract(payload, '\$.aim_error_us')), 0) FROM events WHERE kind = 'trigger'" 2>/dev/null || echo -1)
	results+=("$(jq -c --arg p "$p" --argjson rc "$rc" --argjson again "$again" \
		--argjson worst "$worst" --argjson model "$MODEL" --argjson grid "$GRID" '
	def failed: . == "bricked" or . == "recovered" or . == "fail";
	def mid(a; b): ((a + b) / 2 * 1000 | round) / 1000;
	[.runs[] | select(.params.cut.pattern != null)] as $cuts
	| {profile: $p, exit: $rc, gate: .gate.result, started_again: $again,
	   worst_aim_error_us: $worst,
	   lab_errors: ([.runs[] | select(.verdict == "lab-error")] | length),
	   sweeps: ([$cuts[].params.cut.pattern] | unique | map(. as $pat
	   | [$cuts[] | select(.params.cut.pattern == $pat)
	      | {d: .params.cut.delay_ms, f: (.verdict | failed),
	         v: .verdict}] | sort_by(.d) as $pts
	   | ($model | map(select(.profile == $p and .pattern == $pat)) | .[0]) as $m
	   | [range(0; $pts | length) as $i | $pts[$i]
	      | . + {lo_edge: (if .f and ($i == 0 or ($pts[$i - 1].f | not)) then
			(if $i == 0 then 0 else mid($pts[$i - 1].d; .d) end) else null end),
		     hi_edge: (if .f and ($i == ($pts | length) - 1 or ($pts[$i + 1].f | not)) then
			(if $i == ($pts | length) - 1 then null else mid(.d; $pts[$i + 1].d) end) else null end)}]
	     as $marked
	   | {pattern: $pat, runs: ($pts | length), grid: $grid[$pat],
	      ratio: ((($pts | length) / $grid[$pat] * 1000 | round) / 1000),
	      lab_errors: ([$pts[] | select(.v == "lab-error")] | length),
	      model: (if $m then [$m.lo, $m.hi] else null end),
	      found: {lo: [$marked[] | .lo_edge | select(. != null)],
		      hi: [$marked[] | .hi_edge | select(. != null)]}}
	   | . + {error_ms: (if .model and (.found.lo | length) == 1 and (.found.hi | length) == 1 then
		((if .model[0] == 0 then 0 else (.found.lo[0] - .model[0] | fabs) end)
		 as $el | (.found.hi[0] - .model[1] | fabs) as $eh
		 | {lo: ((($el * 1000) | round) / 1000), hi: ((($eh * 1000) | round) / 1000)})
		else null end)}))}' "$TMP/$p.json")")
done

printf '%s\n' "${results[@]}" | jq -r '
  "\(.profile): exit \(.exit), gate \(.gate), lab errors \(.lab_errors), runs started again \(.started_again), worst aim error \(.worst_aim_error_us) us",
  (.sweeps[] | "  \(.pattern): \(.runs) runs of a \(.grid)-point grid (\(.ratio * 100 | round) %); windows lo \(.found.lo) hi \(.found.hi); model \(.model // "none"); edge error \(.error_ms // "-") ms")'
printf '%s\n' "${results[@]}" | jq -s --argjson machine "$(machine_json)" \
	--arg wall "$(bench_wall)" '{bench: "gateway_edges", machine: $machine,
	wall_s: ($wall | tonumber), profiles: .}' >"$OUT_JSON"
echo "gateway_edges: $OUT_JSON"
