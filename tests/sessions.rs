//! The host's ONNX session pool (host/vendor/README.md): every instance
//! shares the model's sessions, and inferences that run at once on
//! different sessions, or wait for one, give the answers one request alone
//! gets. By default the pool is adaptive (a lone inference on a session
//! spanning every core, inferences side by side on one-thread sessions);
//! `--onnx-sessions` and `--onnx-threads` fix it.

mod common;

use common::{
    api_detections, assert_twins, fixture, Request, Response, Server, ServerConfig, Tolerance,
};

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

/// Every photo sent four times at once answers as it does alone: the same
/// text, or with `tolerance`, the same detections within it (an adaptive
/// pool runs a lone request and requests side by side on sessions with
/// different threads, whose sums may round differently).
fn concurrent_answers_match_single_ones(flags: &[&str], tolerance: Option<Tolerance>) {
    concurrent_answers_match_single_ones_on(common::Backend::Onnx, flags, tolerance);
}

fn concurrent_answers_match_single_ones_on(
    backend: common::Backend,
    flags: &[&str],
    tolerance: Option<Tolerance>,
) {
    let server = Server::start(ServerConfig {
        args: flags.iter().map(|f| f.to_string()).collect(),
        ..ServerConfig::backend(backend)
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
    // Twice, a moment apart: the first time two inferences meet, an
    // adaptive pool makes its one-thread sessions in the background; the
    // second burst runs on them.
    let mut answers = at_once(&server, &names, 4);
    std::thread::sleep(std::time::Duration::from_secs(1));
    answers.extend(at_once(&server, &names, 4));
    for (name, r) in answers {
        assert_eq!(r.status, 200, "{name}: {}", r.text());
        let want = &alone[names.iter().position(|n| *n == name).unwrap()];
        match tolerance {
            None => assert_eq!(&r.text(), want, "{name} at once vs alone ({flags:?})"),
            Some(tolerance) => {
                let want = api_detections(&serde_json::from_str(want).unwrap());
                let got = api_detections(&r.json());
                assert_twins(&name, tolerance, ("at once", &got), ("alone", &want));
            }
        }
    }
}

#[test]
fn the_adaptive_pool_answers_side_by_side_as_alone() {
    concurrent_answers_match_single_ones(&["--max-in-flight", "4"], Some(common::SIDE_BY_SIDE));
}

#[test]
fn openvino_answers_side_by_side_as_alone() {
    // Each instance has its own compiled model; inferences that meet share
    // the cores.
    concurrent_answers_match_single_ones_on(
        common::Backend::Openvino,
        &["--max-in-flight", "4"],
        Some(common::SIDE_BY_SIDE),
    );
}

#[test]
fn one_shared_session_serves_every_instance() {
    concurrent_answers_match_single_ones(&["--max-in-flight", "4", "--onnx-sessions", "1"], None);
}

#[test]
fn sessions_of_one_thread_run_side_by_side() {
    concurrent_answers_match_single_ones(
        &[
            "--max-in-flight",
            "4",
            "--onnx-sessions",
            "2",
            "--onnx-threads",
            "1",
        ],
        None,
    );
}
