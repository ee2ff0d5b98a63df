#!/usr/bin/env bash
# The demo: a throwaway redis-server with sample data, backed up by dynokeeper to its built-in default, the
# local directory store in ./var/backups, then the catalog. Everything it starts, it stops.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/debug/dynokeeper
work=$(mktemp -d /tmp/dynokeeper-demo.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis_pid=""
cleanup() {
  if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }

step "dynokeeper $($bin --version): a throwaway redis-server on 127.0.0.1:$port in $work"
redis-server --port "$port" --bind 127.0.0.1 --dir "$work" --save '' --daemonize no --logfile "$work/redis.log" &
redis_pid=$!
for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done

step "sample data: strings, a hash, a list, a set, a sorted set, a stream, a key with a TTL"
{
  for i in $(seq 1 1000); do echo "SET user:$i name-$i"; done
  echo "HSET profile:1 name Ada lang Swift"
  echo "RPUSH queue:jobs backup restore verify"
  echo "SADD tags redis dynomite swift"
  echo "ZADD scores 10 alice 20 bob"
  echo "XADD events '*' type demo"
  echo "SET session:abc token EX 3600"
} | redis-cli -p "$port" >/dev/null
redis-cli -p "$port" info keyspace | grep '^db'

export DYNOKEEPER_REDIS_PORT=$port
step "dynokeeper backup (RDB via BGSAVE, zstd, SHA-256) to ./var/backups"
$bin backup --log-level warning

step "dynokeeper snapshots"
$bin snapshots --log-level warning

step "what is in the store"
find var/backups -type f | sort | tail -n 4
