#!/usr/bin/env bash
# Run a command (the test suite) with a private Docker engine, when CI runs as root.
#
# In CI (CI set, running as root; or SPARSEDOC_DOCKER=1 as root) this installs docker.io and
# mmdebstrap from Debian if missing, starts its own dockerd without a bridge or iptables rules
# (containers use the host's network and bind 127.0.0.1 only), and runs scripts/docker-images.sh,
# the recipe users run too: it builds the Debian base image with Java 21 offline from the Debian
# mirror (mmdebstrap + docker import, cached by a hash of its recipe) and finds Docker Compose v2
# (Debian trixie's, unpacked into the state folder). The command gets DOCKER_HOST,
# SPARSEDOC_BASE_IMAGE, SPARSEDOC_COMPOSE and SPARSEDOC_DOCKER_STATE; images of OpenSearch and
# sparsedoc are built by the tests from the base. Every container, compose network and volume, and
# dockerd are stopped or removed at the end, pass or fail. Anywhere else the command just runs.
# `SPARSEDOC_DOCKER=1 scripts/with-docker.sh bash` (as root) is a shell with such an engine.
set -euo pipefail

wanted=${SPARSEDOC_DOCKER:-${CI:+1}}
if [ "${wanted:-0}" = 0 ] || [ "$(id -u)" != 0 ]; then
    exec "$@"
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state=${SPARSEDOC_DOCKER_STATE:-/var/lib/sparsedoc-docker}
run=/run/sparsedoc-docker
socket=$run/docker.sock
export SPARSEDOC_DOCKER_STATE=$state
export DOCKER_HOST=unix://$socket
export TESTCONTAINERS_RYUK_DISABLED=true  # no reaper image to pull; the trap removes every container
log() { echo "[with-docker] $*" >&2; }
started=$(date +%s)

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || need+=(debian-archive-keyring)
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
        for kind in network volume; do  # what compose projects left (docker's own networks stay)
            ids=$(docker $kind ls -q --filter label=com.docker.compose.project 2>/dev/null || true)
            [ -z "$ids" ] || { log "removing compose ${kind}s: $(echo $ids)"; docker $kind rm $ids >/dev/null 2>&1 || true; }
        done
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

eval "$("$root/scripts/docker-images.sh")"  # SPARSEDOC_BASE_IMAGE, SPARSEDOC_COMPOSE
log "Docker ready in $(( $(date +%s) - started ))s (base image $SPARSEDOC_BASE_IMAGE)"

"$@"
