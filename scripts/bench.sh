#!/usr/bin/env bash
# `make bench`: bench/bench.py with the project's Python, after making sure
# wrk (Debian's) is there. Arguments go to bench.py (`--help` lists them).
. "$(dirname "$0")/lib.sh"
command -v wrk >/dev/null || { log "installing Debian's wrk"; apt_install wrk; }
exec "$(bash "$ROOT/scripts/python-env.sh")" "$ROOT/bench/bench.py" "$@"
