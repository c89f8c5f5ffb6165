#!/usr/bin/env bash
# Build the local Docker images with no registry pull and find Docker Compose v2; print the
# results as shell exports:  eval "$(scripts/docker-images.sh [VERSION ...])"
#
#   SPARSEDOC_BASE_IMAGE        Debian $SPARSEDOC_BASE_SUITE (trixie) minbase + OpenJDK 21 from the
#                               Debian mirror (mmdebstrap, then docker import), tagged
#                               local/sparsedoc-base:<hash of its recipe> and :latest (the
#                               Dockerfiles' default BASE); built once
#   SPARSEDOC_OPENSEARCH_IMAGE  docker/opensearch/Dockerfile on that base with the distribution that
#                               `sparsedoc opensearch install --version VERSION` downloads and
#                               verifies, tagged sparsedoc-opensearch:VERSION (the last VERSION given)
#   SPARSEDOC_COMPOSE           a Compose v2 command: `docker compose` where that plugin is v2, else
#                               the binary of Debian $SPARSEDOC_COMPOSE_SUITE's (trixie; bookworm's
#                               is v1) docker-compose package, unpacked (not installed) into
#                               $SPARSEDOC_DOCKER_STATE (root: /var/lib/sparsedoc-docker, others:
#                               ~/.cache/sparsedoc/docker)
#
# Needs a Docker engine, mmdebstrap and debian-archive-keyring (Debian/Ubuntu: apt-get install
# mmdebstrap debian-archive-keyring), and `sparsedoc` on PATH for VERSIONs. mmdebstrap runs as
# root, through sudo when you are not. Progress goes to stderr; on failure stdout is `false`, so
# the eval fails too. scripts/with-docker.sh (CI) builds the base and fetches compose with it.
set -euo pipefail
shopt -s inherit_errexit  # a failure inside $(...) fails it

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
suite=${SPARSEDOC_BASE_SUITE:-trixie}
compose_suite=${SPARSEDOC_COMPOSE_SUITE:-trixie}
mirror=${SPARSEDOC_DEBIAN_MIRROR:-http://deb.debian.org/debian}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
packages=ca-certificates,openjdk-21-jre-headless
if [ "$(id -u)" = 0 ]; then
    as_root=() state=${SPARSEDOC_DOCKER_STATE:-/var/lib/sparsedoc-docker}
else
    as_root=(sudo) state=${SPARSEDOC_DOCKER_STATE:-${XDG_CACHE_HOME:-$HOME/.cache}/sparsedoc/docker}
fi
log() { echo "[docker-images] $*" >&2; }
fail() { log "error: $*"; exit 1; }
temp=$(mktemp -d)
trap 'code=$?; rm -rf "$temp"; [ "$code" = 0 ] || echo false; exit "$code"' EXIT

base_image() {
    local arch tag
    arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
    tag=local/sparsedoc-base:$(printf '%s\n' "$suite" "$mirror" "$packages" | sha256sum | cut -c1-12)
    [ "$arch" = amd64 ] || tag=$tag-$arch
    if ! docker image inspect "$tag" >/dev/null 2>&1; then
        command -v mmdebstrap >/dev/null && [ -f "$keyring" ] \
            || fail "mmdebstrap and $keyring are needed (apt-get install mmdebstrap debian-archive-keyring)"
        log "building $tag: Debian $suite minbase + $packages (mmdebstrap from $mirror)"
        "${as_root[@]}" mmdebstrap --quiet --variant=minbase --include="$packages" \
            "$suite" "$temp/base.tar" "$mirror" >&2
        docker import --change "ENV JAVA_HOME=/usr/lib/jvm/java-21-openjdk-$arch" "$temp/base.tar" "$tag" >/dev/null
    fi
    docker tag "$tag" local/sparsedoc-base:latest
    echo "$tag"
}

compose_command() {
    if docker compose version --short 2>/dev/null | grep -Eq '^v?[2-9][.]'; then
        echo "docker compose"
        return
    fi
    local dir=$state/compose-$compose_suite apt_opts
    local binary=$dir/usr/libexec/docker/cli-plugins/docker-compose
    if [ ! -x "$binary" ]; then  # from Debian's signed archive; only its binary is used
        command -v apt-get >/dev/null && [ -f "$keyring" ] \
            || fail "no Compose v2: install the docker compose plugin (or apt-get and debian-archive-keyring)"
        log "fetching docker-compose from Debian $compose_suite into $dir"
        mkdir -p "$state" "$temp/lists/partial" "$temp/cache/archives/partial"
        echo "deb [signed-by=$keyring] $mirror $compose_suite main" >"$temp/sources.list"
        apt_opts=(-qq -o Dir::Etc::sourcelist="$temp/sources.list" -o Dir::Etc::sourceparts=-
                  -o Dir::State::Lists="$temp/lists" -o Dir::Cache="$temp/cache" -o Debug::NoLocking=1
                  -o APT::Sandbox::User="$(id -un)")
        apt-get "${apt_opts[@]}" update >&2
        (cd "$temp" && apt-get "${apt_opts[@]}" download docker-compose >&2)
        rm -rf "$dir.tmp"
        dpkg-deb -x "$temp"/docker-compose_*.deb "$dir.tmp"
        rm -rf "$dir"
        mv "$dir.tmp" "$dir"
    fi
    echo "$binary"
}

opensearch_image() {  # VERSION BASE
    local dist tag=sparsedoc-opensearch:$1
    command -v sparsedoc >/dev/null || fail "sparsedoc is not on PATH (install the clone: pip install -e .)"
    dist=$(sparsedoc opensearch install --version "$1")
    log "building $tag on $2 from $dist"
    DOCKER_BUILDKIT=0 docker build -q --network host -t "$tag" -f "$root/docker/opensearch/Dockerfile" \
        --build-arg BASE="$2" "$dist" >/dev/null
    echo "$tag"
}

case "${1:-}" in -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;; esac
docker version >/dev/null 2>&1 || fail "no Docker engine answers (docker version; DOCKER_HOST=${DOCKER_HOST:-unset})"
base=$(base_image)
compose=$(compose_command)
exports=$(printf 'export SPARSEDOC_BASE_IMAGE=%q SPARSEDOC_COMPOSE=%q' "$base" "$compose")
for version in "$@"; do
    exports="$exports SPARSEDOC_OPENSEARCH_IMAGE=$(opensearch_image "$version" "$base")"
done
echo "$exports"
