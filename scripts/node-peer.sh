#!/usr/bin/env bash
# The Node.js peer's packages (bench/node-peer: sharp, onnxruntime-node),
# pinned by its package-lock.json and installed once under the cache without
# install scripts (onnxruntime-node's would download from the internet; its
# CPU binaries are in the package). Links them as bench/node-peer/node_modules
# and prints the peer's script path.
. "$(dirname "$0")/lib.sh"

peer="$ROOT/bench/node-peer"
modules="$(npm_cached "$peer" node-peer "the Node.js peer's sharp and onnxruntime-node")"
ln -sfn "$modules" "$peer/node_modules"
echo "$peer/peer.mjs"
