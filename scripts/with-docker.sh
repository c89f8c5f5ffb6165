#!/usr/bin/env bash
# Run a command (the test suite) with a private Docker engine, when CI runs as root.
#
# In CI (CI set, running as root) this installs docker.io and mmdebstrap from Debian if missing,
# starts its own dockerd without a bridge or iptables rules (containers use the host's network
# and bind 127.0.0.1 only), and builds the Debian base image with Java 21 offline from the
# Debian mirror (mmdebstrap + docker import), cached by a hash of its recipe. Images of
# OpenSearch and sparsedoc are built by the tests from it. Every container and dockerd are
# stopped at the end, pass or fail. Anywhere else the command just runs (no Docker is set up).
set -euo pipefail

if [ -z "${CI:-}" ] || [ "$(id -u)" != 0 ] || [ "${SPARSEDOC_DOCKER:-1}" = 0 ]; then
    exec "$@"
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state=${SPARSEDOC_DOCKER_STATE:-/var/lib/sparsedoc-docker}
run=/run/sparsedoc-docker
socket=$run/docker.sock
suite=${SPARSEDOC_BASE_SUITE:-trixie}
mirror=${SPARSEDOC_DEBIAN_MIRROR:-http://deb.debian.org/debian}
packages=ca-certificates,openjdk-21-jre-headless
base_tag=$(printf '%s\n' "$suite" "$mirror" "$packages" | sha256sum | cut -c1-12)
export SPARSEDOC_BASE_IMAGE=local/sparsedoc-base:$base_tag
export DOCKER_HOST=unix://$socket
export TESTCONTAINERS_RYUK_DISABLED=true  # no reaper image to pull; the trap removes every container
log() { echo "[with-docker] $*" >&2; }
started=$(date +%s)

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]} from Debian"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

mkdir -p "$state" "$run"
dockerd_pid=
cleanup() {
    local code=$?
    if [ -n "$dockerd_pid" ]; then
        ids=$(docker ps -aq 2>/dev/null || true)
        if [ -n "$ids" ]; then
            log "removing containers: $(echo $ids)"
            docker rm -f $ids >/dev/null 2>&1 || true
        fi
        kill "$dockerd_pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.2; done
        kill -9 "$dockerd_pid" 2>/dev/null || true
        wait "$dockerd_pid" 2>/dev/null || true
        log "dockerd stopped"
    fi
    exit "$code"
}
trap cleanup EXIT INT TERM

log "starting dockerd (no bridge, no iptables; data in $state)"
dockerd --host "unix://$socket" --data-root "$state/data" --exec-root "$run/exec" --pidfile "$run/dockerd.pid" \
    --bridge=none --iptables=false --ip-masq=false --ip-forward=false --userland-proxy=false \
    >"$state/dockerd.log" 2>&1 &
dockerd_pid=$!
for _ in $(seq 150); do
    docker version >/dev/null 2>&1 && break
    kill -0 "$dockerd_pid" 2>/dev/null || { tail -20 "$state/dockerd.log" >&2; exit 1; }
    sleep 0.2
done
docker version >/dev/null

if ! docker image inspect "$SPARSEDOC_BASE_IMAGE" >/dev/null 2>&1; then
    log "building $SPARSEDOC_BASE_IMAGE: Debian $suite minbase + $packages (mmdebstrap)"
    tar=$(mktemp --suffix=.tar)
    mmdebstrap --quiet --variant=minbase --include="$packages" "$suite" "$tar" "$mirror" >&2
    docker import --change 'ENV JAVA_HOME=/usr/lib/jvm/java-21-openjdk-amd64' "$tar" "$SPARSEDOC_BASE_IMAGE" >/dev/null
    rm -f "$tar"
fi
log "Docker ready in $(( $(date +%s) - started ))s (base image $SPARSEDOC_BASE_IMAGE)"

"$@"
