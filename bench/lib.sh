# bench/lib.sh: helpers the benchmark scripts share. Source it after setting WORK (a temporary
# directory for logs) and PIDS (an array the script's exit trap stops).

log() { printf '%s\n' "$*" >&2; }

declare -A PID
# start NAME COMMAND...: runs in the background (output in $WORK/NAME.log), remembered in PIDS
# for the cleanup and in PID[NAME].
start() {
	local name=$1
	shift
	"$@" >"$WORK/$name.log" 2>&1 &
	PIDS+=($!)
	PID[$name]=$!
}

# wait_port PORT: until something listens on 127.0.0.1:PORT (10 s at most).
wait_port() {
	local port=$1 i
	for i in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	log "nothing listens on 127.0.0.1:$port"
	exit 1
}

# median: of the numbers on standard input, one per line.
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
