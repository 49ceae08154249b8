#!/usr/bin/env bash
# make demo-device: one person's device, set up from their own MovieLens
# history, takes part in a few rounds of secure aggregation with other
# people's devices against a coordinator on loopback, then recommends to
# them, explaining each recommendation by their own past ratings.
#
# Everything lands in out/demo-device: the coordinator's files, and one
# device directory per person (person-ID/: events.db, ledger.jsonl, and
# agent.log). Needs only bin/tacit (make build); no network, no Python.
#
#   PERSON   whose device the demo shows (an ml-latest-small userId; 7)
#   OTHERS   other people's devices taking part (11: a device's default
#            policy takes part only among at least 10 devices)
#   ROUNDS   rounds the person's device takes part in before it stops (6)
#   TIMEOUT  seconds to wait for them before giving up (240)
set -euo pipefail
cd "$(dirname "$0")/.."

tacit=${TACIT:-bin/tacit}
out=out/demo-device
person=${PERSON:-7}
others=${OTHERS:-11}
rounds=${ROUNDS:-6}
timeout=${TIMEOUT:-240}

pids=()
coordinator=
# stop_agents ends the agents: each leaves the rounds and closes its
# device when told. stop ends every process this script started.
stop_agents() {
	local pid
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	pids=()
}
stop() {
	stop_agents
	if [ -n "$coordinator" ]; then
		kill -TERM "$coordinator" 2>/dev/null || true
		wait "$coordinator" 2>/dev/null || true
		coordinator=
	fi
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
	echo "demo-device: $*" >&2
	exit 1
}

start=$(date +%s)
rm -rf "$out"
mkdir -p "$out"

# The people: the one the demo is about, then the next ones in the data set.
people=("$person")
for p in $(seq 1 610); do
	[ "${#people[@]}" -gt "$others" ] && break
	[ "$p" = "$person" ] || people+=("$p")
done
n=${#people[@]}

echo "== $n devices, each from one person's own ratings (person $person's is the one shown)"
# step runs tacit, showing the command and what it prints for the person
# the demo is about, and nothing for the others.
step() {
	if [ "$p" = "$person" ]; then
		echo "\$ tacit $*"
		"$tacit" "$@" | sed 's/^./  &/'
	else
		"$tacit" "$@" >/dev/null
	fi
}
for p in "${people[@]}"; do
	dir=$out/person-$p
	csv=$out/person-$p.csv
	step data export-person --person "$p" --out "$csv"
	# The ratings are from 1996 to 2018: keep them longer than the
	# default 365 days before importing them, or they would be skipped.
	step device --dir "$dir" retention --kind rating --days 36500
	step device --dir "$dir" consent --kind rating --grant
	step device --dir "$dir" import "$csv" --kind rating
	step device --dir "$dir" status
done
echo "  ... and $((n - 1)) more, persons ${people[*]:1}"

# The coordinator starts its first round at once: start it when the
# devices are ready. Its settings are the deployed defaults (secure
# aggregation of 16-bit rotated updates, everyone enrolled selected each
# round) but for two: a device that has reported waits for the next round
# at most half the 6 s selection timeout instead of 15 s, and a server
# learning rate ten times the default, for a model that has learnt
# something after a handful of rounds.
echo
echo "== a coordinator on loopback, enrolling $n devices"
"$tacit" coordinator --tokens "$out/tokens.txt" --enroll "$n" --state "$out/coordinator.ckpt" \
	--listen 127.0.0.1:0 --http 127.0.0.1:0 --selection-timeout 6s --server-lr 0.1 --verbose >"$out/coordinator.log" 2>&1 &
coordinator=$!
for _ in $(seq 1 100); do
	grep -q -- '--pin): ' "$out/coordinator.log" 2>/dev/null && break
	kill -0 "$coordinator" 2>/dev/null || { cat "$out/coordinator.log" >&2; fail "the coordinator stopped"; }
	sleep 0.2
done
addr=$(sed -n 's/.*devices connect to //p' "$out/coordinator.log")
pin=$(sed -n 's/.*--pin): //p' "$out/coordinator.log")
[ -n "$addr" ] && [ -n "$pin" ] || { cat "$out/coordinator.log" >&2; fail "the coordinator did not say where it listens"; }
grep -v '^time=' "$out/coordinator.log" | sed 's/^/  /'

# Hand each device its token and signing key.
i=0
for p in "${people[@]}"; do
	dir=$out/person-$p
	awk -v id="device-$i" '$2 == id { print $1 }' "$out/tokens.txt" >"$dir/token"
	cp "$out/tokens.txt.keys/device-$i.key" "$dir/signing.key"
	i=$((i + 1))
done

echo
echo "== the devices take part in rounds (secure aggregation among all $n; the coordinator sees only the sum)"
for p in "${people[@]}"; do
	dir=$out/person-$p
	"$tacit" agent --dir "$dir" --coordinator "$addr" --token-file "$dir/token" --pin "$pin" \
		--key-file "$dir/signing.key" >"$dir/agent.log" 2>&1 &
	pids+=($!)
done
echo "\$ tacit agent --dir $out/person-$person --coordinator $addr --token-file ... --pin ${pin:0:12}... --key-file ..."
log=$out/person-$person/agent.log
shown=0
deadline=$(($(date +%s) + timeout))
while :; do
	lines=$(wc -l <"$log")
	if [ "$lines" -gt "$shown" ]; then
		sed -n "$((shown + 1)),${lines}p" "$log" | sed 's/^/  /'
		shown=$lines
	fi
	done_rounds=$(grep -c '  round [0-9]*: trained' "$log" || true)
	[ "$done_rounds" -ge "$rounds" ] && break
	for pid in "${pids[@]}"; do
		kill -0 "$pid" 2>/dev/null || fail "an agent stopped; see $out/person-*/agent.log"
	done
	kill -0 "$coordinator" 2>/dev/null || fail "the coordinator stopped; see $out/coordinator.log"
	[ "$(date +%s)" -lt "$deadline" ] || fail "$rounds rounds did not come in ${timeout}s; see $out/coordinator.log and $out/person-*/agent.log"
	sleep 1
done
# Let the last round the person's device trained in finish, then stop.
last=$(grep -o '  round [0-9]*: trained' "$log" | tail -1 | grep -o '[0-9][0-9]*')
until grep -q "msg=\"round finished\" round=$last " "$out/coordinator.log"; do
	[ "$(date +%s)" -lt "$deadline" ] || fail "round $last did not finish in ${timeout}s; see $out/coordinator.log"
	sleep 0.5
done
grep "msg=\"round finished\" round=$last " "$out/coordinator.log" | grep -o 'committed=[a-z]* reason="[^"]*"' |
	sed -e "s/committed=true reason=\"\(.*\)\"/  the coordinator committed round $last (\1)/" \
		-e "s/committed=false reason=\"\(.*\)\"/  the coordinator abandoned round $last (\1)/"
stop_agents
echo "  stopped the agents"

# The device keeps the model it trained on in its last round; fetch the
# one that round made.
dir=$out/person-$person
echo
echo "\$ tacit device --dir $dir fetch-model --coordinator $addr --token-file $dir/token --pin ${pin:0:12}..."
"$tacit" device --dir "$dir" fetch-model --coordinator "$addr" --token-file "$dir/token" --pin "$pin" | sed 's/^./  &/'
stop
echo
echo "\$ tacit device --dir $dir ledger"
"$tacit" device --dir "$dir" ledger | sed 's/^./  &/'
echo "  (the rounds add no differential privacy: secure aggregation hides each device's update"
echo "  from the coordinator, but only noise bounds what the model itself reveals, so the ledger"
echo "  counts ε as unbounded; see tacit coordinator --dp)"
echo
echo "\$ tacit device --dir $dir recommend --n 10 --explain"
"$tacit" device --dir "$dir" recommend --n 10 --explain | sed 's/^/  /'
echo
echo "demo-device: $(($(date +%s) - start)) s; person $person's device is in $dir"
