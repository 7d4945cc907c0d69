#!/usr/bin/env bash
# Runs the whole test suite with the race detector, then the e2e module (the real op-geth) and the
# Helm chart's tests.
# Tests that need Redis read INTEROPGATE_TEST_REDIS_URL; this script starts a real redis-server on a free loopback port for
# them and stops it afterwards. Under CI (CI=true) a missing redis-server is an error; elsewhere
# those tests skip and say so.
set -euo pipefail
GO=${GO:-go}
PKGS=${PKGS:-./...}

redis_pid=""
redis_dir=""
cleanup() {
  if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; fi
  if [ -n "$redis_dir" ]; then rm -rf "$redis_dir"; fi
}
trap cleanup EXIT

if command -v redis-server >/dev/null 2>&1; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 16379)
  redis_dir=$(mktemp -d)
  redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$redis_dir" >"$redis_dir/redis.log" 2>&1 &
  redis_pid=$!
  up=""
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then up=1; break; fi
    sleep 0.1  # polling the port until redis accepts, bounded at 10 s
  done
  if [ -z "$up" ]; then
    echo "test.sh: redis-server did not accept connections on 127.0.0.1:$port within 10 s:" >&2
    cat "$redis_dir/redis.log" >&2
    exit 1
  fi
  export INTEROPGATE_TEST_REDIS_URL="redis://127.0.0.1:$port/0"
  echo "test.sh: redis-server on 127.0.0.1:$port"
elif [ "${CI:-}" = "true" ]; then
  echo "test.sh: redis-server is not installed (CI installs it in .ci/run)" >&2
  exit 1
else
  echo "test.sh: no redis-server on PATH: tests that need Redis will skip"
fi

# Each module's wall time is printed, so CI logs show where the minutes go.
start=$SECONDS
# shellcheck disable=SC2086
"$GO" test -race -count=1 -timeout 30m $PKGS
echo "test.sh: main module: $((SECONDS - start)) s"

# The op-reth rig (a chain, the op-reth model and a revalidator in one process, racing each
# other's clocks) skips under the race detector's slowdown: its tests run here without it.
start=$SECONDS
"$GO" test -count=1 -timeout 10m -run 'TestOpReth|TestATxThatBecomesTakeable|TestTheLeverIgnores' ./revalidator
echo "test.sh: op-reth rig without -race: $((SECONDS - start)) s"

# The suites against the real OP Stack clients (op-geth's mempool, and op-interop-filter, which
# the reference suite builds from the pinned module: minutes on a cold cache) live in their own module,
# built against op-geth (-tags opgeth builds the devnet for it). Its OP Stack modules are not in
# the public checksum database: GONOSUMDB exempts them, and e2e/go.sum pins their hashes.
if [ "${INTEROPGATE_SKIP_E2E:-}" = "1" ]; then
  echo "test.sh: INTEROPGATE_SKIP_E2E=1: not running the e2e module"
else
  start=$SECONDS
  (cd e2e && GONOSUMDB=github.com/ethereum-optimism "$GO" test -tags opgeth -count=1 -timeout 40m ./...)
  echo "test.sh: e2e module (op-geth, op-interop-filter): $((SECONDS - start)) s"
fi

# The Helm chart's tests (Helm SDK; their own module, so the product does not carry Kubernetes).
start=$SECONDS
(cd helm && "$GO" test -count=1 -timeout 15m ./...)
echo "test.sh: helm module: $((SECONDS - start)) s"
