//! `wasi-detect-host`: wasmtime's `serve` and `compile` commands in a binary
//! that carries both wasi-nn backends, ONNX Runtime (linked) and OpenVINO
//! (found at run time).
//!
//! The flags are wasmtime's own, so `wasi-detect-host serve -S nn ...` takes
//! exactly what `wasmtime serve -S nn ...` does.

use clap::Parser;

/// wasmtime serve with the ONNX Runtime and OpenVINO wasi-nn backends.
#[derive(Parser)]
#[command(name = "wasi-detect-host", version)]
enum Command {
    /// Serves requests from a wasi-http component (`wasmtime serve`).
    Serve(wasmtime_cli::commands::ServeCommand),
    /// Precompiles a component to a `.cwasm` file (`wasmtime compile`).
    Compile(wasmtime_cli::commands::CompileCommand),
}

fn main() -> wasmtime::Result<()> {
    match Command::parse() {
        Command::Serve(serve) => serve.execute(),
        Command::Compile(compile) => compile.execute(),
    }
}
