#!/usr/bin/env bash
# Runs a command with a throwaway redis-server on a free loopback port:
#   scripts/with-redis.sh go test ./...
# Installs redis-server from the distribution's packages if it is missing
# (apt-get), exports LIVENESS_REDIS_ADDR=127.0.0.1:<port>, and stops the
# server when the command ends. Nothing is saved to disk.
set -euo pipefail

if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
	if command -v apt-get >/dev/null; then
		sudo=""
		[ "$(id -u)" -eq 0 ] || sudo="sudo"
		$sudo apt-get update && $sudo apt-get install -y redis-server
	else
		echo "with-redis: redis-server is not installed and apt-get is not available" >&2
		exit 1
	fi
fi

# A port nothing listens on: the kernel's pick for an ephemeral listener.
free_port() {
	if command -v python3 >/dev/null; then
		python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
		return
	fi
	local p
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % 30000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	echo "with-redis: no free port found" >&2
	return 1
}

dir=$(mktemp -d)
pid=""
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The port may be taken between the pick and the start: try a few.
for attempt in 1 2 3 4 5; do
	port=$(free_port)
	redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
		--daemonize no --dir "$dir" --logfile "$dir/redis.log" &
	pid=$!
	ok=""
	for _ in $(seq 1 100); do # up to 10 s
		if ! kill -0 "$pid" 2>/dev/null; then
			break
		fi
		if [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = "PONG" ]; then
			ok=1
			break
		fi
		sleep 0.1
	done
	[ -n "$ok" ] && break
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	pid=""
	echo "with-redis: redis-server did not start on port $port (attempt $attempt):" >&2
	tail -n 5 "$dir/redis.log" >&2 || true
done
if [ -z "$pid" ]; then
	exit 1
fi

export LIVENESS_REDIS_ADDR="127.0.0.1:$port"
echo "with-redis: redis-server $(redis-server --version | grep -o 'v=[^ ]*') on $LIVENESS_REDIS_ADDR"
"$@"
