#!/usr/bin/env bash
# Builds private mode's files into models/browser/, where the component
# serves them (GET /wasi-detect.js and GET /browser/<hash>/<file>):
#
#   wasi-detect.js            the entry a page imports; re-exports the bundle
#   <hash>/detector.js        web/browser/detector.js and wasi-nn.js, the
#                             component transpiled by jco (--async-mode jspi)
#                             and preview2-shim, bundled by rolldown
#   <hash>/detector.core*.wasm  the component's core modules
#   <hash>/ort.wasm.min.mjs, ort-wasm-simd-threaded.{mjs,wasm}
#                             onnxruntime-web's CPU (wasm SIMD, threads) build
#                             only, none of its WebGPU or WebGL builds
#
# <hash> is the contents' hash: the server lets browsers keep those files for
# a year, and a new build is a new folder. The models' files come from their
# own folders (GET /models/<name>/model.onnx). The npm packages are pinned by
# web/browser/package-lock.json and installed once under $CACHE.
#
# Beside every one of these files, and beside each model's model.onnx where
# it saves a tenth, a gzip -9 copy (<file>.gz), which the server sends to
# browsers that take gzip: 8.8 MB of NanoDet's 15 MB, 3.7 MB of
# onnxruntime-web's 14 MB.
. "$(dirname "$0")/lib.sh"

# Whether $1.gz is there and not older than $1: the server never sends a
# .gz older than its file, which was rebuilt after it.
gz_current() {
    [ -f "$1.gz" ] && ! [ "$1" -nt "$1.gz" ]
}

# Writes $1.gz, then renames it into place, so the server never sends half
# of one. gzip -n stores neither name nor time: the same file, the same bytes.
write_gz() {
    local tmp
    tmp="$(dirname "$1")/.$(basename "$1").gz.tmp"
    gzip -9 -n -c -- "$1" > "$tmp"
    mv -f "$tmp" "$1.gz"
}

# The marker left where a model's .gz was not worth keeping (below), and
# whether it is there and not older than the model.
gz_marker() {
    echo "$(dirname "$1")/.$(basename "$1").gz-skipped"
}
gz_skipped() {
    [ -f "$(gz_marker "$1")" ] && ! [ "$1" -nt "$(gz_marker "$1")" ]
}

# Each served model's weights (a folder with a manifest.json), checked on
# every run, before this build's own up-to-date check below: a model rebuilt
# by `make model` gets a new .gz even when nothing else changed. A few
# seconds the first time. A .gz is kept only where it saves a tenth of the
# bytes: coco-ssd's float weights shrink by 7% (16.7 of 18.0 MB), too little
# for a second copy to store and upload (the Spin app mounts the files).
for manifest in "$ROOT"/models/*/manifest.json; do
    model="$(dirname "$manifest")/model.onnx"
    if [ -f "$model" ] && ! gz_current "$model" && ! gz_skipped "$model"; then
        log "gzipping ${model#"$ROOT"/}"
        write_gz "$model"
        if [ $(( $(wc -c < "$model.gz") * 10 )) -gt $(( $(wc -c < "$model") * 9 )) ]; then
            rm -f "$model.gz"
            touch "$(gz_marker "$model")"
        fi
    fi
done

src="$ROOT/web/browser"
component="$ROOT/dist/wasi-detect.wasm"
[ -f "$component" ] || die "no $component: run \`make component\` first"

lock="$src/package-lock.json"
node_modules="$(npm_cached "$src" browser-npm "jco, preview2-shim, onnxruntime-web and rolldown")"
bin="$node_modules/.bin"
ort="$node_modules/onnxruntime-web/dist"

out="$ROOT/models/browser"
stamp="$out/.from"
from="$(hash_inputs "$component" "$src"/*.js "$lock" "$0")"
if gz_current "$out/wasi-detect.js" && [ "$(cat "$stamp" 2>/dev/null)" = "$from" ]; then
    echo "$out"
    exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
nn="wasi:nn/graph@0.2.0-rc-2024-10-28"
# compute, load and load-by-name return promises in onnxruntime-web: JSPI
# suspends the component while they settle. The HTTP handler is the export
# that calls them, so it is the async export.
"$bin/jco" transpile "$component" -o "$work/component" --name detector \
    --instantiation async --no-typescript --minify --quiet \
    --async-mode jspi \
    --async-imports "wasi:nn/inference@0.2.0-rc-2024-10-28#[method]graph-execution-context.compute" \
    "$nn#load" "$nn#load-by-name" \
    --async-exports "wasi:http/incoming-handler@0.2.0#handle" >&2
cp "$src/detector.js" "$src/wasi-nn.js" "$work/"
mkdir -p "$work/out"
# Bundled for the browser (preview2-shim's browser build); node_modules is
# found from the npm folder.
ln -s "$node_modules" "$work/node_modules"
# jco's Node.js-only fallback imports node:fs/promises, never in a browser.
if ! "$bin/rolldown" "$work/detector.js" --file "$work/out/detector.js" --format esm \
    --platform browser --minify --external node:fs/promises --no-checks.moduleLevelDirective \
    > "$work/rolldown.log" 2>&1; then
    cat "$work/rolldown.log" >&2
    die "rolldown could not bundle private mode's files"
fi
cp "$work/component/"*.wasm "$work/out/"
cp "$ort/ort.wasm.min.mjs" "$ort/ort-wasm-simd-threaded.mjs" "$ort/ort-wasm-simd-threaded.wasm" "$work/out/"

# The hash of the files themselves; their .gz files follow from them.
hash="$(cd "$work/out" && sha256sum -- * | sha256sum | cut -c1-16)"
for f in "$work/out"/*; do
    write_gz "$f"
done
mkdir -p "$out"
find "$out" -mindepth 1 -maxdepth 1 -type d ! -name "$hash" -exec rm -rf {} +
rm -rf "$out/$hash" && mv "$work/out" "$out/$hash"
cat > "$out/wasi-detect.js" <<EOF
// wasi-detect's private mode: the detector running in this page. This file
// is served without a long cache lifetime; the files it imports are named by
// their contents' hash and cached for a year.
export * from "./browser/$hash/detector.js";
EOF
write_gz "$out/wasi-detect.js"
echo "$from" > "$stamp"
echo "$out"
