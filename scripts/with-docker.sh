#!/usr/bin/env bash
# Run a command (the test suite) with a private Docker engine, when CI runs as root.
#
# In CI (CI set, running as root) this installs docker.io and mmdebstrap from Debian if missing,
# starts its own dockerd without a bridge or iptables rules (containers use the host's network
# and bind 127.0.0.1 only), and builds the Debian base image with Java 21 offline from the
# Debian mirror (mmdebstrap + docker import), cached by a hash of its recipe. Images of
# OpenSearch and sparsedoc are built by the tests from it. Docker Compose v2 comes from Debian
# $SPARSEDOC_COMPOSE_SUITE (trixie; bookworm's is the old v1), unpacked into the state folder
# and exported as $SPARSEDOC_COMPOSE. Every container, compose network and volume, and dockerd
# are stopped or removed at the end, pass or fail. Anywhere else the command just runs.
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

# Compose v2 from Debian (signed archive), not installed system-wide: only its binary is used.
compose_suite=${SPARSEDOC_COMPOSE_SUITE:-trixie}
compose_dir=$state/compose-$compose_suite
export SPARSEDOC_COMPOSE=$compose_dir/usr/libexec/docker/cli-plugins/docker-compose
if [ ! -x "$SPARSEDOC_COMPOSE" ]; then
    log "fetching docker-compose from Debian $compose_suite"
    apt_dir=$(mktemp -d)
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $compose_suite main" >"$apt_dir/sources.list"
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
    apt_opts=(-qq -o Dir::Etc::sourcelist="$apt_dir/sources.list" -o Dir::Etc::sourceparts=-
              -o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache="$apt_dir/cache" -o APT::Sandbox::User=root)
    apt-get "${apt_opts[@]}" update >&2
    (cd "$apt_dir" && apt-get "${apt_opts[@]}" download docker-compose >&2)
    dpkg-deb -x "$apt_dir"/docker-compose_*.deb "$compose_dir.tmp"
    rm -rf "$compose_dir" "$apt_dir"
    mv "$compose_dir.tmp" "$compose_dir"
fi
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

if ! docker image inspect "$SPARSEDOC_BASE_IMAGE" >/dev/null 2>&1; then
    log "building $SPARSEDOC_BASE_IMAGE: Debian $suite minbase + $packages (mmdebstrap)"
    tar=$(mktemp --suffix=.tar)
    mmdebstrap --quiet --variant=minbase --include="$packages" "$suite" "$tar" "$mirror" >&2
    docker import --change 'ENV JAVA_HOME=/usr/lib/jvm/java-21-openjdk-amd64' "$tar" "$SPARSEDOC_BASE_IMAGE" >/dev/null
    rm -f "$tar"
fi
log "Docker ready in $(( $(date +%s) - started ))s (base image $SPARSEDOC_BASE_IMAGE)"

"$@"
