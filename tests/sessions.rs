//! The host's ONNX session pool (`--onnx-sessions`, `--onnx-threads`;
//! host/vendor/README.md): every instance shares the model's sessions, and
//! inferences that run at once on different sessions, or wait for one, give
//! the answers one request alone gets.

mod common;

use common::{fixture, Request, Response, Server, ServerConfig};

fn photo(name: &str) -> Request {
    Request::post("/predict")
        .header("content-type", "image/jpeg")
        .body(std::fs::read(fixture(name)).unwrap())
}

/// Each photo `rounds` times, all sent at once on connections of their own
/// (so wasmtime makes an instance for each one in flight).
fn at_once(server: &Server, names: &[&str], rounds: usize) -> Vec<(String, Response)> {
    std::thread::scope(|s| {
        let sent: Vec<_> = (0..rounds)
            .flat_map(|_| names.iter())
            .map(|&name| s.spawn(move || (name.to_string(), server.request(photo(name)))))
            .collect();
        sent.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn concurrent_answers_match_single_ones(flags: &[&str]) {
    let server = Server::start(ServerConfig {
        args: flags.iter().map(|f| f.to_string()).collect(),
        ..ServerConfig::default()
    });
    let names = ["astronaut.jpg", "coffee-rotated.jpg"];
    let alone: Vec<String> = names
        .iter()
        .map(|name| {
            let r = server.request(photo(name));
            assert_eq!(r.status, 200, "{name}: {}", r.text());
            r.text()
        })
        .collect();
    for (name, r) in at_once(&server, &names, 4) {
        assert_eq!(r.status, 200, "{name}: {}", r.text());
        let want = &alone[names.iter().position(|n| *n == name).unwrap()];
        assert_eq!(&r.text(), want, "{name} at once vs alone ({flags:?})");
    }
}

#[test]
fn one_shared_session_serves_every_instance() {
    concurrent_answers_match_single_ones(&["--max-in-flight", "4"]);
}

#[test]
fn sessions_of_one_thread_run_side_by_side() {
    concurrent_answers_match_single_ones(&[
        "--max-in-flight",
        "4",
        "--onnx-sessions",
        "2",
        "--onnx-threads",
        "1",
    ]);
}
