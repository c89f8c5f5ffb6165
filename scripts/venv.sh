#!/usr/bin/env bash
# Print the path of a virtualenv holding sparsedoc's dependencies, building it only when needed.
#
# The venv lives outside the clone, keyed by a hash of the dependency spec in pyproject.toml
# and the Python version, so CI and fresh clones reuse it instead of reinstalling torch.
# This clone is then installed into it in editable mode (seconds, no dependencies).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${SPARSEDOC_PYTHON:-$(command -v python3.11 || command -v python3)}

requirements=$("$python" - "$root/pyproject.toml" <<'PY'
import sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
deps = list(project["dependencies"])
for extra in project.get("optional-dependencies", {}).values():
    deps += [d for d in extra if not d.startswith(project["name"])]
print("\n".join(sorted(set(deps))))
PY
)
key=$(printf '%s\n%s\n' "$requirements" "$("$python" --version)" | sha256sum | cut -c1-16)
venv=${SPARSEDOC_VENV_HOME:-$HOME/.cache/sparsedoc/venvs}/$key

if [ ! -f "$venv/.complete" ]; then
    echo "building virtualenv $venv (first run for this dependency spec)" >&2
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip setuptools wheel >&2
    printf '%s\n' "$requirements" > "$venv/requirements.txt"
    "$venv/bin/python" -m pip install --quiet -r "$venv/requirements.txt" >&2
    touch "$venv/.complete"
fi

# Editable install of this clone (no dependencies, no build isolation: fast and offline).
# Checked from / so that the clone's own sparsedoc/ folder does not shadow the installed mapping.
installed=$(cd / && "$venv/bin/python" -c 'import sparsedoc.encoder, pathlib; print(pathlib.Path(sparsedoc.__file__).resolve().parents[1])' 2>/dev/null || true)
if [ "$installed" != "$root" ]; then
    log=$(mktemp)
    if ! "$venv/bin/python" -m pip install --quiet --no-deps --no-build-isolation -e "$root" >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        exit 1
    fi
    rm -f "$log"
fi
echo "$venv"
