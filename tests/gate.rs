//! The host's admission gate under real bursts: requests beyond what the
//! engine can work on and queue get `503` with `retry-after` at once, requests
//! that cannot be answered within the budget get `503` too, a stalled upload
//! gets `408` without holding up anyone, and the server serves normally
//! afterwards.

mod common;

use common::{api_detections, assert_twins, fixture, Request, Response, Server, ServerConfig};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn gated(flags: &[&str]) -> Server {
    Server::start(ServerConfig {
        args: flags.iter().map(|f| f.to_string()).collect(),
        ..ServerConfig::default()
    })
}

fn photo() -> Request {
    Request::post("/predict")
        .header("content-type", "image/jpeg")
        .body(std::fs::read(fixture("astronaut.jpg")).unwrap())
}

/// `n` photos sent at once, each on its own connection.
fn burst(server: &Server, n: usize) -> Vec<Response> {
    std::thread::scope(|s| {
        let sent: Vec<_> = (0..n)
            .map(|_| s.spawn(|| server.request(photo())))
            .collect();
        sent.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn assert_refused(r: &Response, code: &str) {
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    let retry: u64 = r
        .header("retry-after")
        .expect("retry-after")
        .parse()
        .expect("retry-after in seconds");
    assert!(retry >= 1, "retry-after {retry}");
    assert_eq!(r.json()["code"], code, "{}", r.text());
}

fn assert_still_serves(server: &Server) {
    let r = server.request(photo());
    assert_eq!(r.status, 200, "{}", r.text());
    let found = api_detections(&r.json());
    assert_eq!(found[0].class, "person", "{found:?}");
}

#[test]
fn a_burst_beyond_the_queue_is_refused_at_once_and_the_rest_answered() {
    let server = gated(&["--max-in-flight", "1", "--max-queue", "2"]);
    assert_eq!(server.request(Request::get("/warm")).status, 200);
    let answers = burst(&server, 10);
    let ok = answers.iter().filter(|r| r.status == 200).count();
    for r in answers.iter().filter(|r| r.status != 200) {
        assert_refused(r, "busy");
    }
    // One runs and two wait; of ten sent at once, at least seven are refused
    // (a few more may get in as early ones finish).
    assert!((3..=6).contains(&ok), "{ok} of 10 answered");
    assert_still_serves(&server);
}

#[test]
fn with_the_default_pool_a_burst_beyond_the_queue_is_refused_and_the_rest_answered() {
    // The host's defaults (one request in flight a core, the adaptive
    // engine pool), so the requests let in meet and the one-thread sessions
    // come in: the gate still refuses what it cannot queue, and every
    // request let in gets the lone request's answer.
    let server = gated(&["--max-queue", "2"]);
    let lone = server.request(photo());
    assert_eq!(lone.status, 200, "{}", lone.text());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let answers = burst(&server, 4 * cores + 12);
    let ok: Vec<_> = answers.iter().filter(|r| r.status == 200).collect();
    let refused = answers.len() - ok.len();
    for r in answers.iter().filter(|r| r.status != 200) {
        assert_refused(r, "busy");
    }
    assert!(refused > 0, "none of {} refused", answers.len());
    assert!(
        ok.len() >= cores,
        "{} of {} answered",
        ok.len(),
        answers.len()
    );
    let want = api_detections(&lone.json());
    for r in ok {
        let got = api_detections(&r.json());
        assert_twins(
            "astronaut.jpg",
            common::SIDE_BY_SIDE,
            ("in the burst", &got),
            ("alone", &want),
        );
    }
    assert_still_serves(&server);
}

#[test]
fn requests_past_the_budget_get_503_and_do_not_block_later_ones() {
    let server = gated(&["--max-in-flight", "1", "--request-budget", "40ms"]);
    // The engine needs longer than 40 ms per photo, so a burst of them
    // cannot all be answered in time.
    let answers = burst(&server, 8);
    let late: Vec<_> = answers.iter().filter(|r| r.status == 503).collect();
    assert!(!late.is_empty());
    for r in late {
        assert_refused(r, "timeout");
    }
}

#[test]
fn a_client_that_stalls_its_upload_holds_no_turn_and_is_cut_off() {
    let server = gated(&["--max-in-flight", "1", "--request-budget", "2s"]);
    let mut stalled = TcpStream::connect(server.addr).unwrap();
    stalled
        .write_all(b"POST /predict HTTP/1.1\r\nhost: x\r\ncontent-type: image/jpeg\r\ncontent-length: 100000\r\n\r\n\xff\xd8")
        .unwrap();
    let started = Instant::now();
    // With one request at a time, this is answered only because the upload
    // in progress has not taken the turn.
    assert_still_serves(&server);
    stalled
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut answer = [0u8; 512];
    let n = stalled.read(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(10));
}
