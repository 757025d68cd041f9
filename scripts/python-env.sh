#!/usr/bin/env bash
# Prints the path of a Python interpreter that has scripts/requirements.txt
# installed, or the requirements file given as the argument (kserve/'s). The venv lives under $CACHE/venv/<hash of requirements.txt>, so it
# is made once per set of pins and shared by every checkout on the machine; a
# change of pins gets a new venv and leaves the old one alone.
# Logs go to stderr: callers do `py="$(scripts/python-env.sh)"`.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

req="$(realpath "${1:-$ROOT/scripts/requirements.txt}")"
key="$(sha256sum "$req" | cut -c1-16)"
venv="$CACHE/venv/$key"
# Written last, so a venv cut short by an error or ^C is never taken as ready.
stamp="$venv/.wasi-detect-ready"

venv_ok() { [ -f "$stamp" ] && "$venv/bin/python" -c '' 2>/dev/null; }

if ! venv_ok; then
    mkdir -p "$CACHE/venv"
    # Two builds started together must not install into the same venv at once.
    exec 9>"$venv.lock"
    flock 9
    if ! venv_ok; then
        log "creating the Python venv $venv"
        rm -rf "$venv"
        "$PYTHON" -m venv "$venv"
        # Wheels only: building numpy or onnx from source would take long and
        # need compilers that CI may lack.
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            --no-input --only-binary=:all: -r "$req" >&2
        check="$("$venv/bin/python" -m pip check 2>&1)" || die "pip check: $check"
        touch "$stamp"
    fi
    exec 9>&-
fi
echo "$venv/bin/python"
