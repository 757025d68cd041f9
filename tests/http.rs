//! End to end: the real host (`wasi-detect-host serve`, i.e. wasmtime serve
//! with the ONNX Runtime wasi-nn backend) serving the built component, real
//! photos, real HTTP. Detections are checked against the same model run
//! natively by ONNX Runtime on the same images.

mod common;

use common::{api_detections, assert_twins, Body, Request, Server, ServerConfig, VS_NATIVE};
use std::sync::OnceLock;

/// One server for the tests that need the default setup.
fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| Server::start(ServerConfig::default()))
}

#[test]
fn photos_give_what_onnx_runtime_gives_natively() {
    common::assert_photos_match_native(server(), "component");
}

#[test]
fn exif_orientation_gives_boxes_in_displayed_pixels() {
    // The same photo stored upright and stored rotated with an EXIF tag.
    let upright = api_detections(&server().post_fixture("/predict", "coffee.png").json());
    let rotated = api_detections(
        &server()
            .post_fixture("/predict", "coffee-rotated.jpg")
            .json(),
    );
    assert!(!upright.is_empty());
    let best = &upright[0];
    let twin = rotated
        .iter()
        .find(|d| d.class == best.class)
        .expect("same object found");
    assert!(twin.iou(best) > 0.8, "{twin:?} vs {best:?}");
}

#[test]
fn the_answer_has_the_documented_shape() {
    let r = server().post_fixture("/predict", "chelsea.png");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let timing = r.header("server-timing").expect("server-timing");
    for step in [
        "decode",
        "orient",
        "letterbox",
        "tensor",
        "copy-in",
        "inference",
        "copy-out",
        "postprocess",
    ] {
        assert!(timing.contains(&format!("{step};dur=")), "{timing}");
    }
    let json = r.json();
    let first = &json[0];
    let keys: Vec<&String> = first.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["bbox", "class", "score"]);
    assert_eq!(first["class"], "cat");
    let (x1, x2) = (
        first["bbox"][0]["x"].as_f64().unwrap(),
        first["bbox"][1]["x"].as_f64().unwrap(),
    );
    assert!(0.0 <= x1 && x1 < x2 && x2 <= 451.0, "{first}");
}

#[test]
fn query_parameters_filter_the_answer() {
    let s = server();
    let all = api_detections(
        &s.post_fixture("/predict?threshold=0.2", "astronaut.png")
            .json(),
    );
    assert!(all.len() >= 2, "{all:?}");
    let one = api_detections(
        &s.post_fixture("/predict?threshold=0.2&max=1", "astronaut.png")
            .json(),
    );
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].class, all[0].class);
    let high = api_detections(
        &s.post_fixture("/predict?threshold=0.7", "astronaut.png")
            .json(),
    );
    assert!(high.iter().all(|d| d.score > 0.7) && high.len() < all.len());
    let people = api_detections(
        &s.post_fixture("/predict?threshold=0.2&classes=person", "astronaut.png")
            .json(),
    );
    assert!(!people.is_empty() && people.iter().all(|d| d.class == "person"));
    let none = api_detections(
        &s.post_fixture("/predict?classes=giraffe", "astronaut.png")
            .json(),
    );
    assert!(none.is_empty());
}

#[test]
fn chunked_uploads_are_read_whole() {
    let bytes = std::fs::read(common::fixture("chelsea.png")).unwrap();
    let r = server().request(
        Request::post("/predict")
            .header("content-type", "image/png")
            .framed(Body::Chunked(bytes, 7_000)),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(api_detections(&r.json())[0].class, "cat");
}

#[test]
fn warm_loads_the_model_and_says_how() {
    let r = server().request(Request::get("/warm"));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let json = r.json();
    assert_eq!(json["model"], "nanodet");
    assert_eq!(json["source"], "load-by-name");
    assert!(json["inference_ms"].as_f64().unwrap() > 0.0, "{json}");
    assert!(json["load_ms"].as_f64().unwrap() >= 0.0, "{json}");
}

#[test]
fn cors_preflight() {
    let r = server().request(Request::new("OPTIONS", "/predict"));
    assert_eq!(r.status, 204);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert!(r
        .header("access-control-allow-methods")
        .unwrap()
        .contains("POST"));
}

#[test]
fn every_error_path_answers_json_and_the_server_stays_up() {
    let s = server();
    for case in common::bad_requests() {
        let r = s.request(case.request);
        let message = r.assert_error(case.status, case.code);
        assert!(
            message.contains(case.message_has),
            "{}: {message}",
            case.what
        );
        if case.status == 405 {
            // The allowed method, named in the message, is in `allow` too.
            let allow = r.header("allow").unwrap_or_default();
            assert!(allow.contains(case.message_has), "{}: {allow}", case.what);
        }
    }
    // Media-type parameters are fine.
    let png = std::fs::read(common::fixture("chelsea.png")).unwrap();
    let r = s.post_image("/predict", "image/png; charset=binary", png);
    assert_eq!(r.status, 200);

    // And the same server still answers a good photo correctly.
    let r = s.post_fixture("/predict", "chelsea.png");
    assert_eq!(r.status, 200);
    assert_eq!(api_detections(&r.json())[0].class, "cat");
}

#[test]
fn a_model_the_host_does_not_have_is_a_503_naming_it() {
    let s = Server::start(ServerConfig {
        preload: false,
        env: vec![("WASI_DETECT_MODEL".into(), "no-such-model".into())],
        ..ServerConfig::default()
    });
    let m = s
        .post_fixture("/predict", "chelsea.png")
        .assert_error(503, "model_unavailable");
    assert!(
        m.contains("no-such-model") && m.contains("/models/no-such-model/model.onnx"),
        "{m}"
    );
    s.request(Request::get("/warm"))
        .assert_error(503, "model_unavailable");
    // A bad setting is reported as such.
    let bad = Server::start(ServerConfig {
        preload: false,
        env: vec![("WASI_DETECT_MODEL".into(), "../x".into())],
        ..ServerConfig::default()
    });
    bad.post_fixture("/predict", "chelsea.png")
        .assert_error(500, "invalid_setting");
}

#[test]
fn without_a_preloaded_graph_the_model_is_read_from_the_models_folder() {
    let s = Server::start(ServerConfig {
        preload: false,
        ..ServerConfig::default()
    });
    // The first request loads the model (ONNX Runtime reads and optimises
    // the file: milliseconds), and says so in its Server-Timing.
    let first = s.post_fixture("/predict", "chelsea.png");
    let timing = first.header("server-timing").expect("server-timing");
    let load: f64 = timing
        .split(", ")
        .find_map(|step| step.strip_prefix("load;dur="))
        .unwrap_or_else(|| panic!("no load step in {timing}"))
        .parse()
        .unwrap();
    assert!(load > 1.0, "{timing}");
    let warm = s.request(Request::get("/warm")).json();
    assert_eq!(warm["source"], "/models/nanodet/model.onnx", "{warm}");
    assert_eq!(warm["loaded_now"], false, "{warm}");
    let again = s.post_fixture("/predict", "chelsea.png");
    let timing = again.header("server-timing").expect("server-timing");
    assert!(!timing.contains("load;"), "{timing}");
    let got = api_detections(&s.post_fixture("/predict", "chelsea.png").json());
    let want = api_detections(&server().post_fixture("/predict", "chelsea.png").json());
    assert_twins(
        "chelsea.png",
        VS_NATIVE,
        ("from files", &got),
        ("by name", &want),
    );
}
