#!/usr/bin/env bash
# Installs what the page's browser test (tests/page.rs) needs: Debian's
# Chromium (a browser download by a test tool cannot work offline) and
# playwright-core from npm, pinned by tests/browser/package-lock.json.
. "$(dirname "$0")/lib.sh"

chromium="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
    log "installing Debian's chromium"
    apt_install chromium
    [ -x "$chromium" ] || die "apt-get installed no $chromium"
fi

browser="$ROOT/tests/browser"
stamp="$browser/node_modules/.wasi-detect-lock"
if ! cmp -s "$browser/package-lock.json" "$stamp"; then
    log "installing playwright-core (npm ci)"
    (cd "$browser" && npm ci --silent --no-audit --no-fund) >&2
    cp "$browser/package-lock.json" "$stamp"
fi
