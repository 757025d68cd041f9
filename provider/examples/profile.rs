//! Where a model's time goes when tract runs it natively, per kind of op:
//! the other half of the portable build's profile (`profile` export, run in
//! wasm), for `make bench`.
//!
//! `cargo run --release -p wasi-nn-tract --example profile -- <model.onnx> [runs]`

use wasi_nn_tract::engine::Model;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: profile <model.onnx> [runs]");
    let runs = args
        .next()
        .map_or(10, |r| r.parse().expect("runs: a number"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let model = Model::from_onnx(&bytes).unwrap_or_else(|e| panic!("{path}: {e}"));
    let input = model.zero_input().unwrap();
    let mut session = model.session().unwrap();
    let kernels = model.matmul_kernels();
    let profile = session.profile(&input, runs).unwrap();
    println!("matrix kernels: {}", summary(&kernels));
    println!("{profile}");
}

/// "name (count), ..." for a list with repeats.
fn summary(names: &[String]) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for name in names {
        match counts.iter_mut().find(|(n, _)| n == name) {
            Some((_, c)) => *c += 1,
            None => counts.push((name.clone(), 1)),
        }
    }
    counts
        .iter()
        .map(|(n, c)| format!("{n} ({c})"))
        .collect::<Vec<_>>()
        .join(", ")
}
