#!/usr/bin/env bash
# The demo: a throwaway redis-server with sample data, backed up by dynokeeper to its built-in default, the
# local directory store in ./var/backups; then the data is changed and restored. Everything it starts, it
# stops.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/debug/dynokeeper
work=$(mktemp -d /tmp/dynokeeper-demo.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cleanup() {
  if [ -f "$work/redis.pid" ]; then kill "$(cat "$work/redis.pid")" 2>/dev/null || true; fi
  for _ in $(seq 1 50); do redis-cli -p "$port" ping >/dev/null 2>&1 || break; sleep 0.1; done
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }

# Redis runs from a config file, daemonized, so that dynokeeper can stop it and start it again (redis.start)
# and knows where Redis keeps its data while it is down (redis.conf).
cat > "$work/redis.conf" <<CONF
port $port
bind 127.0.0.1
dir $work
save ""
daemonize yes
pidfile $work/redis.pid
logfile $work/redis.log
CONF
export DYNOKEEPER_REDIS_PORT=$port
export DYNOKEEPER_REDIS_CONF="$work/redis.conf"
export DYNOKEEPER_REDIS_START="redis-server $work/redis.conf"
export DYNOKEEPER_RESTORE_ENABLED=true
export DYNOKEEPER_LOG_LEVEL=warning

step "dynokeeper $($bin --version): a throwaway redis-server on 127.0.0.1:$port in $work"
redis-server "$work/redis.conf"
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
echo "profile:1 = $(redis-cli -p "$port" hgetall profile:1 | tr '\n' ' ')"

step "dynokeeper backup: RDB via BGSAVE, through zstd and SHA-256, to ./var/backups"
$bin backup

step "dynokeeper snapshots"
$bin snapshots

step "an accident: the data is flushed and replaced"
redis-cli -p "$port" flushall >/dev/null
redis-cli -p "$port" set oops "wrong data" >/dev/null
redis-cli -p "$port" info keyspace | grep '^db'

step "dynokeeper restore: fetch and verify, stop Redis, put the snapshot in place, start Redis, check the keys"
$bin restore

step "the data is back"
redis-cli -p "$port" info keyspace | grep '^db'
echo "profile:1 = $(redis-cli -p "$port" hgetall profile:1 | tr '\n' ' ')"
echo "oops = '$(redis-cli -p "$port" get oops)'"
