// Runs a wasm32-wasip1 program (a test binary) with Node's WASI and exits
// with its exit code: cargo's runner for `scripts/test-pixels-wasm.sh`.
import { WASI } from "node:wasi";
import { readFile } from "node:fs/promises";

const [wasmPath, ...args] = process.argv.slice(2);
// The checkout is preopened at its own path, so a test finds its files where
// CARGO_MANIFEST_DIR says they are.
const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const wasi = new WASI({
    version: "preview1",
    args: [wasmPath, ...args],
    env: process.env,
    preopens: { [root]: root },
    returnOnExit: true,
});
const module = await WebAssembly.compile(await readFile(wasmPath));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
process.exit(wasi.start(instance) ?? 0);
