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
. "$(dirname "$0")/lib.sh"

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
if [ -f "$out/wasi-detect.js" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$from" ]; then
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

hash="$(cd "$work/out" && sha256sum -- * | sha256sum | cut -c1-16)"
mkdir -p "$out"
find "$out" -mindepth 1 -maxdepth 1 -type d ! -name "$hash" -exec rm -rf {} +
rm -rf "$out/$hash" && mv "$work/out" "$out/$hash"
cat > "$out/wasi-detect.js" <<EOF
// wasi-detect's private mode: the detector running in this page. This file
// is served without a long cache lifetime; the files it imports are named by
// their contents' hash and cached for a year.
export * from "./browser/$hash/detector.js";
EOF
echo "$from" > "$stamp"
echo "$out"
