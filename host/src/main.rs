//! `wasi-detect-host`: wasmtime's `serve`, `run`, `compile` and `wizer` commands in a binary
//! that carries both wasi-nn backends, ONNX Runtime (linked) and OpenVINO
//! (found at run time), with an admission gate in front of `serve`; and
//! `v2`, a KServe v2 server over the same ONNX Runtime ([`v2`]).
//!
//! `serve` takes exactly what `wasmtime serve` takes, plus the host's own
//! flags: the gate's (`--max-in-flight`, `--max-queue`, `--request-budget`,
//! `--max-body`; see [`gate`]), the ONNX backend's (`--onnx-sessions`,
//! `--onnx-threads`) and OpenVINO's (`--openvino-precision`; see
//! `vendor/README.md`).
//! `--addr` stays the public address: wasmtime itself listens on a loopback
//! port that only the gate talks to.

mod gate;
mod v2;

use clap::{Args, CommandFactory, FromArgMatches, Parser};
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;
use wasmtime_cli::commands::{CompileCommand, RunCommand, ServeCommand, WizerCommand};

/// wasmtime serve with the ONNX Runtime and OpenVINO wasi-nn backends.
#[derive(Parser)]
#[command(name = "wasi-detect-host", version)]
enum Command {
    /// Serves requests from a wasi-http component (`wasmtime serve`) behind
    /// the admission gate; `serve --help` lists the host's own flags too.
    Serve(Box<ServeCommand>),
    /// Precompiles a component to a `.cwasm` file (`wasmtime compile`).
    Compile(Box<CompileCommand>),
    /// Runs a component, or calls one of its exports (`wasmtime run`; the
    /// portable provider's kernel and profile exports, `--invoke`).
    Run(Box<RunCommand>),
    /// Pre-initialises a component: runs an init export and snapshots its
    /// memory (`wasmtime wizer`).
    Wizer(Box<WizerCommand>),
    /// Serves ONNX models over the Open Inference Protocol (KServe v2, REST,
    /// binary tensors) with the host's ONNX Runtime: a v2 server for the
    /// build over one.
    V2(Box<v2::V2Args>),
}

/// The host's own `serve` flags, the gate's and the ONNX backend's; every
/// other `serve` flag is wasmtime's.
#[derive(Args, Debug)]
struct HostArgs {
    /// Public socket address to serve on.
    #[arg(long, value_name = "SOCKADDR", default_value = "0.0.0.0:8080")]
    addr: SocketAddr,
    /// Requests worked on at once [default: the number of CPUs]. 0 turns the
    /// gate off: wasmtime serves `--addr` itself, queueing without bound.
    #[arg(long, value_name = "N")]
    max_in_flight: Option<usize>,
    /// Requests that may wait for a turn; more are refused with 503 at once.
    #[arg(long, value_name = "N", default_value_t = 16)]
    max_queue: usize,
    /// Longest time from a request's arrival to its answer; past it the
    /// client gets 503 (e.g. `10s`, `500ms`).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    request_budget: Duration,
    /// Largest request body in bytes; larger ones get 413 before they are
    /// read. The component's own limit (5 MB).
    #[arg(long, value_name = "BYTES", default_value_t = 5 * 1024 * 1024)]
    max_body: usize,
    /// ONNX Runtime sessions of each model, shared by every instance: how
    /// many inferences run at once (more wait for a free session). Unset
    /// with `--onnx-threads`: adaptive, a lone inference on every core and
    /// inferences side by side on one core each.
    #[arg(long, value_name = "N")]
    onnx_sessions: Option<usize>,
    /// ONNX Runtime threads per inference; 0 is one per core. Setting it or
    /// `--onnx-sessions` fixes the pool: e.g. `--onnx-threads 1
    /// --onnx-sessions <cores>` for throughput alone.
    #[arg(long, value_name = "N")]
    onnx_threads: Option<usize>,
    /// The precision OpenVINO computes in on the CPU: `auto` is OpenVINO's
    /// own choice, bf16 where the CPU has it (Xeons with AMX: several times
    /// faster, boxes and scores move slightly); `f32` gives ONNX Runtime's
    /// answers on every CPU.
    #[arg(long, value_name = "PRECISION", default_value = "auto",
          value_parser = ["auto", "f32", "bf16", "f16"])]
    openvino_precision: String,
}

const HOST_FLAGS: [&str; 8] = [
    "--addr",
    "--max-in-flight",
    "--max-queue",
    "--request-budget",
    "--max-body",
    "--onnx-sessions",
    "--onnx-threads",
    "--openvino-precision",
];

fn main() -> wasmtime::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("serve") {
        return serve(&args[2..]);
    }
    match Command::parse() {
        // `serve` is handled above; this arm only keeps it in `--help`.
        Command::Serve(serve) => serve.execute(),
        Command::Compile(compile) => compile.execute(),
        Command::Run(run) => run.execute(),
        Command::Wizer(wizer) => wizer.execute(),
        Command::V2(v2) => v2.execute(),
    }
}

fn serve(args: &[String]) -> wasmtime::Result<()> {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print_serve_help();
        return Ok(());
    }
    let (host_args, wasmtime_args) = split_host_args(args);
    let mut host_command = HostArgs::augment_args(clap::Command::new("serve"));
    let host_args = HostArgs::from_arg_matches(
        &host_command
            .try_get_matches_from_mut(std::iter::once("serve".to_string()).chain(host_args))
            .unwrap_or_else(|e| e.exit()),
    )?;
    configure_onnx(host_args.onnx_sessions, host_args.onnx_threads);
    wasmtime_wasi_nn::backend::openvino::configure(
        Some(host_args.openvino_precision.clone()).filter(|p| p != "auto"),
    );
    let max_in_flight = host_args.max_in_flight.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });

    let wasmtime_serve = |addr: SocketAddr| {
        let argv = ["serve".to_string(), "--addr".into(), addr.to_string()];
        ServeCommand::try_parse_from(argv.into_iter().chain(wasmtime_args.iter().cloned()))
            .unwrap_or_else(|e| e.exit())
    };
    if max_in_flight == 0 {
        return wasmtime_serve(host_args.addr).execute();
    }

    // wasmtime gets a free loopback port; the gate takes the public one.
    let engine_addr = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let engine = wasmtime_serve(engine_addr);
    let public = TcpListener::bind(host_args.addr)?;
    public.set_nonblocking(true)?;
    let engine_thread = std::thread::spawn(move || engine.execute());

    let limits = gate::Limits {
        max_in_flight,
        max_queue: host_args.max_queue,
        budget: host_args.request_budget,
        max_body: host_args.max_body,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        // Accept nothing until the engine listens, so no early request fails.
        while std::net::TcpStream::connect(engine_addr).is_err() {
            if engine_thread.is_finished() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        eprintln!(
            "Gate on http://{} (at most {} at once, {} waiting, {} ms budget)",
            host_args.addr,
            limits.max_in_flight,
            limits.max_queue,
            limits.budget.as_millis()
        );
        let listener = tokio::net::TcpListener::from_std(public)?;
        tokio::select! {
            served = gate::run(listener, engine_addr, limits) => served,
            // wasmtime ends on Ctrl-C (after its graceful shutdown) or on an
            // error; the gate ends with it.
            _ = wait_for(&engine_thread) => Ok(()),
        }
    })?;
    match engine_thread.join() {
        Ok(result) => result,
        Err(_) => wasmtime::bail!("the engine thread panicked"),
    }
}

/// The ONNX backend's session pool from `--onnx-sessions` and
/// `--onnx-threads` (`serve`'s and `v2`'s): adaptive unless either is set.
fn configure_onnx(sessions: Option<usize>, threads: Option<usize>) {
    use wasmtime_wasi_nn::backend::onnx::{self, PoolSettings};
    onnx::configure(match (sessions, threads) {
        (None, None) => PoolSettings::Adaptive,
        (sessions, threads) => PoolSettings::Fixed {
            sessions: sessions.unwrap_or(1),
            threads: threads.unwrap_or(0),
        },
    });
}

async fn wait_for<T>(thread: &std::thread::JoinHandle<T>) {
    while !thread.is_finished() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Takes the host's flags (`--flag value` or `--flag=value`) out of `args`.
fn split_host_args(args: &[String]) -> (Vec<String>, Vec<String>) {
    let (mut host, mut rest) = (Vec::new(), Vec::new());
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        let flag = arg.split('=').next().unwrap_or(arg);
        if HOST_FLAGS.contains(&flag) {
            host.push(arg.clone());
            if !arg.contains('=') && i + 1 < args.len() {
                host.push(args[i + 1].clone());
                i += 1;
            }
        } else {
            rest.push(arg.clone());
        }
        i += 1;
    }
    (host, rest)
}

fn print_serve_help() {
    let mut host = HostArgs::augment_args(
        clap::Command::new("wasi-detect-host serve")
            .about("The host's flags (gate, engines); all others are wasmtime serve's (below)."),
    );
    let _ = host.print_help();
    println!("\n");
    let mut wasmtime = ServeCommand::command().name("wasmtime serve");
    let _ = wasmtime.print_help();
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (number, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((s, "s"), |i| s.split_at(i));
    let n: f64 = number.parse().map_err(|_| format!("not a duration: {s}"))?;
    let seconds = match unit {
        "s" => n,
        "ms" => n / 1e3,
        "m" => n * 60.0,
        _ => return Err(format!("unknown unit in {s}: use ms, s or m")),
    };
    if !(seconds > 0.0 && seconds.is_finite()) {
        return Err(format!("the budget must be positive: {s}"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_flags_are_taken_out_wherever_they_are() {
        let args: Vec<String> = [
            "-S",
            "nn",
            "--addr",
            "0.0.0.0:1",
            "--max-queue=3",
            "--dir",
            "a::b",
            "x.wasm",
        ]
        .map(String::from)
        .to_vec();
        let (host, rest) = split_host_args(&args);
        assert_eq!(host, ["--addr", "0.0.0.0:1", "--max-queue=3"]);
        assert_eq!(rest, ["-S", "nn", "--dir", "a::b", "x.wasm"]);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("1h").is_err());
        assert!(parse_duration("x").is_err());
    }
}
