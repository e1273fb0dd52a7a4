#!/usr/bin/env bash
# Runs a command with throwaway Redis deployments on free loopback ports, in
# the three shapes the verdict store supports:
#   scripts/with-redis.sh go test ./...
#   - one server:            LIVENESS_REDIS_ADDR=127.0.0.1:<port>
#   - a Redis Cluster of three masters, each with two replicas:
#                            LIVENESS_REDIS_CLUSTER=<seed>,<seed>,<seed>
#   - a primary with two replicas under three Sentinels (master name lvprimary):
#                            LIVENESS_REDIS_SENTINEL=<sentinel>,<sentinel>,<sentinel>
#                            LIVENESS_REDIS_SENTINEL_MASTER=lvprimary
# Installs redis-server from the distribution's packages if it is missing
# (apt-get; Sentinel is redis-server --sentinel), and stops every process
# when the command ends. Nothing is saved to disk.
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

# A port for a cluster node: at most 55535, with the cluster bus port
# (10000 above it) free as well.
free_cluster_port() {
	local p
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % 30000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && ! (exec 3<>"/dev/tcp/127.0.0.1/$((p + 10000))") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	echo "with-redis: no free port found" >&2
	return 1
}

dir=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME ARGS...: starts a redis-server (ARGS before the port) on a
# free port (PORTS=cluster: one fit for a cluster node), waits for its
# PING and writes the port to $dir/NAME/port. The port may be taken between
# the pick and the start: it tries a few.
start() {
	local name=$1 port pid attempt
	shift
	mkdir -p "$dir/$name"
	for attempt in 1 2 3 4 5; do
		if [ "${PORTS:-}" = cluster ]; then port=$(free_cluster_port); else port=$(free_port); fi
		(cd "$dir/$name" && exec redis-server "$@" --port "$port" --bind 127.0.0.1 \
			--daemonize no --dir "$dir/$name" --logfile "$dir/$name/redis.log") &
		pid=$!
		for _ in $(seq 1 100); do # up to 10 s
			if ! kill -0 "$pid" 2>/dev/null; then
				break
			fi
			if [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = "PONG" ]; then
				pids+=("$pid")
				echo "$port" > "$dir/$name/port"
				return 0
			fi
			sleep 0.1
		done
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		echo "with-redis: $name did not start on port $port (attempt $attempt):" >&2
		tail -n 5 "$dir/$name/redis.log" >&2 || true
	done
	return 1
}
port_of() { cat "$dir/$1/port"; }

# wait_for WHAT CMD...: runs CMD until it succeeds, up to 30 s.
wait_for() {
	local what=$1 i
	shift
	for i in $(seq 1 300); do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	echo "with-redis: gave up waiting for $what" >&2
	return 1
}

plain=(--save '' --appendonly no --enable-debug-command local)

# One server.
start single "${plain[@]}"
export LIVENESS_REDIS_ADDR="127.0.0.1:$(port_of single)"

# A cluster: nine nodes, three masters and two replicas each (so that a
# master that fails leaves its promoted replica a replica of its own).
nodes=()
for i in 1 2 3 4 5 6 7 8 9; do
	PORTS=cluster start "cluster$i" "${plain[@]}" --cluster-enabled yes --cluster-config-file nodes.conf \
		--cluster-node-timeout 1000
	nodes+=("127.0.0.1:$(port_of "cluster$i")")
done
redis-cli --cluster create "${nodes[@]}" --cluster-replicas 2 --cluster-yes > "$dir/cluster-create.log" 2>&1 || {
	cat "$dir/cluster-create.log" >&2
	exit 1
}
cluster_ok() {
	local n
	for n in "${nodes[@]}"; do
		redis-cli -h 127.0.0.1 -p "${n##*:}" cluster info | grep -q '^cluster_state:ok' || return 1
	done
}
wait_for "the cluster to be ok" cluster_ok
export LIVENESS_REDIS_CLUSTER="${nodes[0]},${nodes[1]},${nodes[2]}"

# A primary and two replicas under three Sentinels.
start primary "${plain[@]}"
primary=$(port_of primary)
for r in replica1 replica2; do
	start "$r" "${plain[@]}" --replicaof 127.0.0.1 "$primary"
	replica_ok() { redis-cli -h 127.0.0.1 -p "$(port_of "$r")" info replication | grep -q '^master_link_status:up'; }
	wait_for "$r to sync" replica_ok
done
sentinels=()
for i in 1 2 3; do
	mkdir -p "$dir/sentinel$i"
	cat > "$dir/sentinel$i/sentinel.conf" <<-CONF
		sentinel monitor lvprimary 127.0.0.1 $primary 2
		sentinel down-after-milliseconds lvprimary 1000
		sentinel failover-timeout lvprimary 5000
		sentinel parallel-syncs lvprimary 1
	CONF
	start "sentinel$i" "$dir/sentinel$i/sentinel.conf" --sentinel
	sentinels+=("127.0.0.1:$(port_of "sentinel$i")")
done
sentinel_ok() {
	local s
	for s in "${sentinels[@]}"; do
		redis-cli -h 127.0.0.1 -p "${s##*:}" sentinel replicas lvprimary | grep -q "$(port_of replica1)" || return 1
		redis-cli -h 127.0.0.1 -p "${s##*:}" sentinel replicas lvprimary | grep -q "$(port_of replica2)" || return 1
	done
}
wait_for "the sentinels to see the replica" sentinel_ok
export LIVENESS_REDIS_SENTINEL
LIVENESS_REDIS_SENTINEL=$(IFS=,; echo "${sentinels[*]}")
export LIVENESS_REDIS_SENTINEL_MASTER=lvprimary

echo "with-redis: redis-server $(redis-server --version | grep -o 'v=[^ ]*'): $LIVENESS_REDIS_ADDR;" \
	"cluster $LIVENESS_REDIS_CLUSTER; sentinels $LIVENESS_REDIS_SENTINEL (master lvprimary)"
"$@"
