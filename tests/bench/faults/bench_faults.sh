#!/usr/bin/env bash
# bench_faults [RUNS]: is patchlab honest under lab faults (issue 12)?
#
# Suites of clean updates on the `good` firmware run on two virtual racks:
# MCU_BOARDS virtual-mcu boards (update_clean.lua, 2 runs a board a suite)
# and GW_BOARDS gateway boards, which have no probe
# (gateway/update_clean.lua). Rounds take turns (mcu, mcu, gateway) until
# RUNS runs (default 200) are planned. While each suite runs, one lab fault
# drawn from the seeded generator is injected at a random moment:
#   none      a control round: it must PASS (exit 0)
#   freeze    the rack process stopped (SIGSTOP) for 1-5 s, then SIGCONT
#   console   a board's console link renamed (a USB adapter re-enumerating)
#             for 0.3-2 s, then back under its own name
#   probe     the controller's connection to a board's GDB server dropped
#             (ss -K; mcu only: the gateway has no probe)
#   relay     the rack's relay board silent for 1-5 s (`relay 0 silent` on
#             DIR/rack.sock: it swallows every frame; LCUS has no answer, so
#             the controller cannot tell), then normal again
#   kill      the controller SIGKILLed, then the same suite run again on the
#             same store (the restarted controller cleans up after it)
#
# Checked and printed:
#   false device verdicts  fail, bricked, recovered or rolled-back on `good`
#                          (every device verdict but pass is false here)
#   lost results           runs the engine began that are not closed with a
#                          verdict, runs of a finished suite missing from the
#                          store, suites left open
#   boards left on         `vrack status` power=on after every round
#   gates                  a suite with a fault ends PASS or INCOMPLETE,
#                          never FAIL; one without ends PASS; exit code,
#                          stored gate and JSON gate agree (0/pass,
#                          2/incomplete); a killed suite is closed incomplete
# A fault drawn for a moment after its suite had already ended is counted
# as missed, not injected. Seeded: PL_BENCH_SEED (printed) fixes the plan
# of faults (kind, board, moment, length) and every suite's seed; when they
# land relative to the board's own timing still depends on the machine.
# Writes runs/bench/faults.json. Not a test: never run by ctest.
#
# Environment: PL_BENCH_SEED (default 20261207), PL_BENCH_RUNS or $1 (200),
# and bench_lib.sh's (PATCHLAB, PL_BENCH_OUT, PL_BENCH_KEEP).
set -uo pipefail
. "$(dirname "$0")/../lib/bench_lib.sh"
bench_init faults

SEED=${PL_BENCH_SEED:-20261207}
RUNS=${1:-${PL_BENCH_RUNS:-200}}
MCU_BOARDS=4
GW_BOARDS=2
case $SEED in '' | *[!0-9]*) echo "faults: PL_BENCH_SEED must be a number, not '$SEED'" >&2; exit 64 ;; esac
case $RUNS in '' | *[!0-9]* | 0) echo "faults: RUNS must be a positive number, not '$RUNS'" >&2; exit 64 ;; esac
command -v ss >/dev/null || { echo "faults: ss (iproute2) is needed to drop probe connections" >&2; exit 2; }
command -v sqlite3 >/dev/null || { echo "faults: sqlite3 is needed to read the stores" >&2; exit 2; }
command -v socat >/dev/null || { echo "faults: socat is needed to silence a relay (DIR/rack.sock)" >&2; exit 2; }
command -v jq >/dev/null || { echo "faults: jq is needed to read the JSON reports" >&2; exit 2; }
RANDOM=$SEED

# --------------------------------------------------------------- the racks
FROZEN= SILENT=
faults_cleanup() {
	# a rack left stopped would not go down; a relay left silent would
	# not switch its boards off
	[ -n "$FROZEN" ] && kill -CONT "$FROZEN" 2>/dev/null
	[ -n "$SILENT" ] && rack_cmd "$SILENT" "relay 0 normal" >/dev/null
	bench_cleanup
}
trap faults_cleanup EXIT

MCU=$TMP/mcu
GW=$TMP/gw
rack_up "$MCU" "$MCU_BOARDS" good 20
MCU_PID=$RACK_PID
BENCH_RACKS+=("$GW")
if ! "$PATCHLAB" vrack up --dir "$GW" --family gateway --boards "$GW_BOARDS" \
	--profile good --speed 20 --seed 1 >"$GW.up.log" 2>&1; then
	echo "faults: vrack up --family gateway failed:" >&2
	cat "$GW.up.log" >&2
	exit 2
fi
GW_PID=$(cat "$GW/rack.pid")

# the suites, each in a scenarios tree of its own
scen_dir "$TMP/smcu" update_clean.lua
cat >"$TMP/smcu/suites/mcu.yaml" <<'EOF'
name: faults-mcu
images:
  golden: {path: "${VRACK}/images/v1.0.0.img", version: 1.0.0}
  new: {path: "${VRACK}/images/v1.1.0.img", version: 1.1.0}
defaults: {run_timeout: 1m}
runs:
  - scenario: update_clean.lua
    repeat: 2
EOF
MCU_PER_SUITE=$((MCU_BOARDS * 2))
scen_dir "$TMP/sgw"
mkdir -p "$TMP/sgw/gateway" && cp "$ROOT/scenarios/gateway/update_clean.lua" "$TMP/sgw/gateway/" || exit 2
cat >"$TMP/sgw/suites/gw.yaml" <<'EOF'
name: faults-gateway
images:
  golden: {path: "${VRACK}/images/gw-1.0.0.img", version: 1.0.0}
  new: {path: "${VRACK}/images/gw-2.1.0.img", version: 2.1.0}
  factory: "${VRACK}/images/gw-factory.bin"
defaults: {run_timeout: 1m}
runs:
  - scenario: gateway/update_clean.lua
    repeat: 2
EOF
GW_PER_SUITE=$((GW_BOARDS * 2))

# --------------------------------------------------------------- helpers
# rnd VAR LO HI: VAR = a draw in [LO, HI] (in this shell: a $(...) would
# draw in a subshell, which bash reseeds, and the plan would not repeat)
rnd() { printf -v "$1" '%d' $(($2 + RANDOM % ($3 - $2 + 1))); }
msleep() { sleep "$(calc "$1 / 1000" %.3f)"; }
q() { sqlite3 -cmd ".timeout 5000" "$1" "$2"; }
# a command to the rack in dir $1 (its control socket); prints the answer
rack_cmd() { printf '%s\n' "$2" | socat -t 5 - "UNIX-CONNECT:$1/rack.sock" 2>&1; }

# boards of rack dir $1 powered on
powered() {
	"$PATCHLAB" vrack status --dir "$1" 2>/dev/null | grep -c ' power=on'
}

# the GDB port of board $2 in lab $1
probe_port() {
	awk -v id="$2" '$2 == "id:" { cur = $3 } cur == id && /probe:/ {
		sub(/.*127\.0\.0\.1:/, ""); sub(/[^0-9].*/, ""); print; exit }' "$1"
}

declare -A INJ MISSED FALSE
for k in none freeze console probe relay kill; do INJ[$k]=0; MISSED[$k]=0; FALSE[$k]=0; done
planned=0 rounds=0 recorded=0 false_dev=0 lost=0 left_on=0 left_on_max=0
gate_pass=0 gate_incomplete=0 gate_fail=0 gate_wrong=0 odd_exit=0
v_pass=0 v_lab=0 v_notrun=0 killed_closed=0 killed_early=0 kills=0
: >"$TMP/rounds"
: >"$TMP/problems"

problem() {
	echo "  round $round ($fam, $kind): $*" | tee -a "$TMP/problems"
}

# Start the suite of round $round in the background: CPID, OUT.
start_suite() {
	"$PATCHLAB" run "$SUITE" --lab "$LAB" --out "$OUT" --json "$OUT/run$1.json" \
		--seed $((SEED + round * 10 + $1)) -q >"$OUT/run$1.log" 2>&1 &
	CPID=$!
}

# Inject fault $kind into the running controller $CPID; sets INJECTED.
inject() {
	local b link port n
	INJECTED=0
	kill -0 "$CPID" 2>/dev/null || return 0
	case $kind in
	none) INJECTED=1 ;;
	freeze)
		FROZEN=$RPID
		kill -STOP "$RPID" && INJECTED=1
		msleep "$HOLD"
		kill -CONT "$RPID"
		FROZEN=
		;;
	console)
		link=$RDIR/$BOARD.console
		mv "$link" "$link.reenumerated" && INJECTED=1
		msleep "$HOLD"
		mv "$link.reenumerated" "$link"
		;;
	probe)
		port=$(probe_port "$LAB" "$BOARD")
		n=$(ss -K dst 127.0.0.1 dport = ":$port" 2>/dev/null | grep -c ESTAB)
		[ "$n" -gt 0 ] && INJECTED=1
		;;
	relay)
		SILENT=$RDIR
		[ "$(rack_cmd "$RDIR" "relay 0 silent")" = ok ] && INJECTED=1
		msleep "$HOLD"
		[ "$(rack_cmd "$RDIR" "relay 0 normal")" = ok ] ||
			problem "relay 0 of $RDIR did not go back to normal"
		SILENT=
		;;
	kill)
		kill -KILL "$CPID" && INJECTED=1
		;;
	esac
}

# ---------------------------------------------------------------- rounds
echo "faults: seed $SEED, $RUNS runs planned; racks: $MCU_BOARDS virtual-mcu (pid $MCU_PID), $GW_BOARDS gateway (pid $GW_PID)"
printf '%-5s %-4s %-8s %-5s %6s %6s %6s %10s %5s %7s %7s %6s\n' round fam fault board at_ms hold_ms exit gate pass lab-err not-run secs
while [ "$planned" -lt "$RUNS" ]; do
	round=$((rounds + 1))
	if [ $((round % 3)) -eq 0 ]; then
		fam=gw RDIR=$GW RPID=$GW_PID SUITE=$TMP/sgw/suites/gw.yaml per=$GW_PER_SUITE
		kinds=(none freeze console relay kill)
		rnd b 0 $((GW_BOARDS - 1))
		BOARD=gw$b
		rnd AT 100 700
	else
		fam=mcu RDIR=$MCU RPID=$MCU_PID SUITE=$TMP/smcu/suites/mcu.yaml per=$MCU_PER_SUITE
		kinds=(none freeze console probe relay kill)
		rnd b 0 $((MCU_BOARDS - 1))
		BOARD=vb$b
		rnd AT 100 1000
	fi
	kind=${kinds[$((RANDOM % ${#kinds[@]}))]}
	case $kind in
	freeze | relay) rnd HOLD 1000 5000 ;;
	console) rnd HOLD 300 2000 ;;
	*) HOLD=0 ;;
	esac
	LAB=$RDIR/lab.yaml
	OUT=$TMP/r$round
	mkdir -p "$OUT"
	DB=$OUT/patchlab.db
	planned=$((planned + per))
	rounds=$round

	t0=$(date +%s.%N)
	start_suite 1
	msleep "$AT"
	inject
	wait "$CPID" 2>/dev/null
	rc=$?
	rc1=$rc
	if [ "$INJECTED" = 1 ]; then
		INJ[$kind]=$((INJ[$kind] + 1))
	else
		MISSED[$kind]=$((MISSED[$kind] + 1))
	fi
	final=1
	if [ "$kind" = kill ] && [ "$INJECTED" = 1 ]; then
		kills=$((kills + 1))
		[ "$rc" -eq 137 ] || problem "killed controller exited $rc, not 137"
		# restarted: the same suite on the same store
		start_suite 2
		wait "$CPID" 2>/dev/null
		rc=$?
		final=2
	fi
	faulted=0
	[ "$INJECTED" = 1 ] && [ "$kind" != none ] && faulted=1

	# ---- the store of the round
	r_false=$(q "$DB" "SELECT count(*) FROM runs WHERE verdict IN ('fail','bricked','recovered','rolled-back')")
	r_open=$(q "$DB" "SELECT count(*) FROM runs WHERE state <> 'closed' OR verdict IS NULL")
	r_all=$(q "$DB" "SELECT count(*) FROM runs")
	s_open=$(q "$DB" "SELECT count(*) FROM suites WHERE finished IS NULL")
	last=$(q "$DB" "SELECT max(id) FROM suites")
	r_last=$(q "$DB" "SELECT count(*) FROM runs WHERE suite_id = $last")
	gate=$(q "$DB" "SELECT gate FROM suites WHERE id = $last")
	jgate=$(jq -r '.gate.result' "$OUT/run$final.json" 2>/dev/null)
	p=$(q "$DB" "SELECT count(*) FROM runs WHERE verdict = 'pass'")
	l=$(q "$DB" "SELECT count(*) FROM runs WHERE verdict = 'lab-error'")
	n=$(q "$DB" "SELECT count(*) FROM runs WHERE verdict = 'not-run'")
	recorded=$((recorded + r_all))
	v_pass=$((v_pass + p)) v_lab=$((v_lab + l)) v_notrun=$((v_notrun + n))
	false_dev=$((false_dev + r_false))
	FALSE[$kind]=$((FALSE[$kind] + r_false))
	[ "$r_false" -gt 0 ] && problem "$r_false false device verdict(s): $(q "$DB" "SELECT id || ' ' || board_id || ' ' || verdict || ': ' || reason FROM runs WHERE verdict IN ('fail','bricked','recovered','rolled-back')" | tr '\n' ';')"
	# lost: unclosed runs, runs of the finished suite missing, open suites
	miss=$((per - r_last))
	[ "$miss" -lt 0 ] && miss=0
	r_lost=$((r_open + miss + s_open))
	lost=$((lost + r_lost))
	[ "$r_lost" -gt 0 ] && problem "lost: $r_open run(s) not closed, $miss of $per run(s) missing, $s_open suite(s) open"
	if [ "$kind" = kill ] && [ "$INJECTED" = 1 ]; then
		# the killed controller's suite, if it got as far as recording one
		nk=$(q "$DB" "SELECT count(*) FROM suites WHERE id < $last")
		kg=$(q "$DB" "SELECT coalesce(gate, 'open') FROM suites WHERE id < $last ORDER BY id LIMIT 1")
		if [ "$nk" = 0 ]; then
			killed_early=$((killed_early + 1))
		elif [ "$kg" = incomplete ]; then
			killed_closed=$((killed_closed + 1))
		else
			problem "the killed suite's gate is '$kg', not incomplete"
		fi
	fi
	# the gate: never FAIL under a fault; PASS without one; all agree
	case $gate in
	pass) gate_pass=$((gate_pass + 1)) ;;
	incomplete) gate_incomplete=$((gate_incomplete + 1)) ;;
	fail) gate_fail=$((gate_fail + 1)) ;;
	esac
	want=
	case $rc in 0) want=pass ;; 2) want=incomplete ;; 1) want=fail ;; *) odd_exit=$((odd_exit + 1)); problem "controller exit $rc" ;; esac
	if [ "$gate" = fail ] || { [ "$faulted" = 0 ] && [ "$gate" != pass ]; } ||
		[ "$gate" != "$want" ] || [ "$jgate" != "$gate" ]; then
		gate_wrong=$((gate_wrong + 1))
		problem "gate '$gate' (JSON '$jgate'), exit $rc, fault injected: $faulted"
	fi
	# no board left on by a controller that is gone
	on=$(powered "$RDIR")
	left_on=$((left_on + on))
	[ "$on" -gt "$left_on_max" ] && left_on_max=$on
	[ "$on" -gt 0 ] && problem "$on board(s) left powered"
	secs=$(echo "$(date +%s.%N) $t0" | awk '{printf "%.1f", $1 - $2}')
	at=$AT
	[ "$INJECTED" = 1 ] || at="($AT)"
	ex=$rc1
	[ "$final" = 2 ] && ex="$rc1/$rc"
	printf '%-5s %-4s %-8s %-5s %6s %6s %6s %10s %5s %7s %7s %6s\n' "$round" "$fam" "$kind" \
		"$BOARD" "$at" "$HOLD" "$ex" "$gate" "$p" "$l" "$n" "$secs"
	echo "$round $fam $kind $BOARD $AT $HOLD $INJECTED $rc1 $rc $gate $p $l $n $r_false $r_lost $on $secs" >>"$TMP/rounds"
done

on_end=$(( $(powered "$MCU") + $(powered "$GW") ))
injected=$((INJ[freeze] + INJ[console] + INJ[probe] + INJ[relay] + INJ[kill]))
wall=$(bench_wall)
echo
printf '%-44s %s\n' \
	"seed" "$SEED" \
	"rounds (suites) / runs planned" "$rounds / $planned" \
	"runs recorded (killed suites' runs too)" "$recorded: pass $v_pass, lab-error $v_lab, not-run $v_notrun" \
	"faults injected" "$injected: freeze ${INJ[freeze]}, console ${INJ[console]}, probe ${INJ[probe]}, relay ${INJ[relay]}, controller kill ${INJ[kill]} (control rounds: ${INJ[none]})" \
	"faults missed (suite already over)" "freeze ${MISSED[freeze]}, console ${MISSED[console]}, probe ${MISSED[probe]}, relay ${MISSED[relay]}, kill ${MISSED[kill]}, none ${MISSED[none]}" \
	"false device verdicts" "$false_dev (by fault: freeze ${FALSE[freeze]}, console ${FALSE[console]}, probe ${FALSE[probe]}, relay ${FALSE[relay]}, kill ${FALSE[kill]}, none ${FALSE[none]})" \
	"lost results" "$lost" \
	"boards left powered (after rounds / at end)" "$left_on / $on_end" \
	"gates" "PASS $gate_pass, INCOMPLETE $gate_incomplete, FAIL $gate_fail; wrong $gate_wrong; odd exits $odd_exit" \
	"killed suites closed incomplete" "$killed_closed of $kills ($killed_early killed before recording a suite)" \
	"wall time" "$wall s"
if [ -s "$TMP/problems" ]; then
	echo
	echo "problems:"
	cat "$TMP/problems"
fi
rows=$(awk 'BEGIN {sep = ""} {printf "%s{\"round\": %d, \"family\": \"%s\", \"fault\": \"%s\", \"board\": \"%s\", \"at_ms\": %d, \"hold_ms\": %d, \"injected\": %s, \"exit\": %d, \"exit_restarted\": %d, \"gate\": \"%s\", \"pass\": %d, \"lab_error\": %d, \"not_run\": %d, \"false_device\": %d, \"lost\": %d, \"left_on\": %d, \"wall_s\": %s}", sep, $1, $2, $3, $4, $5, $6, ($7 ? "true" : "false"), $8, $9, $10, $11, $12, $13, $14, $15, $16, $17; sep = ",\n    "}' "$TMP/rounds")
cat >"$OUT_JSON" <<EOF
{"bench": "faults", "machine": $(machine_json), "wall_s": $wall, "seed": $SEED,
  "rounds": $rounds, "runs_planned": $planned, "runs_recorded": $recorded,
  "verdicts": {"pass": $v_pass, "lab-error": $v_lab, "not-run": $v_notrun},
  "injected": {"freeze": ${INJ[freeze]}, "console": ${INJ[console]}, "probe": ${INJ[probe]}, "relay": ${INJ[relay]}, "kill": ${INJ[kill]}, "none": ${INJ[none]}},
  "missed": {"freeze": ${MISSED[freeze]}, "console": ${MISSED[console]}, "probe": ${MISSED[probe]}, "relay": ${MISSED[relay]}, "kill": ${MISSED[kill]}, "none": ${MISSED[none]}},
  "false_device_verdicts": $false_dev,
  "false_device_verdicts_by_fault": {"freeze": ${FALSE[freeze]}, "console": ${FALSE[console]}, "probe": ${FALSE[probe]}, "relay": ${FALSE[relay]}, "kill": ${FALSE[kill]}, "none": ${FALSE[none]}},
  "lost_results": $lost,
  "boards_left_on_after_rounds": $left_on, "boards_left_on_at_end": $on_end,
  "gates": {"pass": $gate_pass, "incomplete": $gate_incomplete, "fail": $gate_fail, "wrong": $gate_wrong},
  "odd_exits": $odd_exit, "killed_suites_closed_incomplete": $killed_closed,
  "killed_before_a_suite": $killed_early, "kills": $kills,
  "rounds_detail": [
    $rows
  ]}
EOF
echo "faults: ${wall} s; figures in $OUT_JSON"
bad=$((false_dev + lost + on_end + gate_fail + gate_wrong + odd_exit))
[ "$bad" -eq 0 ]
