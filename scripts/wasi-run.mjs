// Runs a wasm32-wasip1 program (a test binary) with Node's WASI and exits
// with its exit code: cargo's runner for `scripts/test-pixels-wasm.sh`.
import { WASI } from "node:wasi";
import { readFile } from "node:fs/promises";

const [wasmPath, ...args] = process.argv.slice(2);
const wasi = new WASI({ version: "preview1", args: [wasmPath, ...args], env: process.env, returnOnExit: true });
const module = await WebAssembly.compile(await readFile(wasmPath));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
process.exit(wasi.start(instance) ?? 0);
