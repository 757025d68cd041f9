//! End to end: the real host (`wasi-detect-host serve`, i.e. wasmtime serve
//! with the ONNX Runtime wasi-nn backend) serving the built component, real
//! photos, real HTTP. Detections are checked against the same model run
//! natively by ONNX Runtime on the same images.

mod common;

use common::{
    api_detections, assert_twins, Body, Reference, Request, Server, ServerConfig, TempModels,
    VS_NATIVE,
};
use serde_json::{json, Value};
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
fn centernet_gives_what_its_reference_gives() {
    common::assert_photos_match_reference(
        server(),
        "centernet",
        Reference::CenterNet,
        "/predict?model=centernet&max=100",
    );
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
        "resize",
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
    // `iou` replaces the model's overlap (coco-ssd's 0.5): at 0.2 the cup
    // suppresses the dining table under it, as coco-ssd's detect(img, 20,
    // 0.2) does; at 1 nothing suppresses anything.
    let classes = |query: &str| -> Vec<String> {
        let r = s.post_fixture(
            &format!("/predict?model=coco-ssd&threshold=0.2{query}"),
            "coffee.png",
        );
        api_detections(&r.json())
            .into_iter()
            .map(|d| d.class)
            .collect()
    };
    assert_eq!(classes(""), ["cup", "dining table"]);
    assert_eq!(classes("&iou=0.2"), ["cup"]);
    assert!(classes("&iou=1").len() > 2);
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
    // No folder at all: its manifest is the first thing missing.
    let s = Server::start(ServerConfig {
        preload: false,
        env: vec![("WASI_DETECT_MODEL".into(), "no-such-model".into())],
        ..ServerConfig::default()
    });
    let m = s
        .post_fixture("/predict", "chelsea.png")
        .assert_error(503, "model_unavailable");
    assert!(
        m.contains("no-such-model") && m.contains("/models/no-such-model/manifest.json"),
        "{m}"
    );
    s.request(Request::get("/warm"))
        .assert_error(503, "model_unavailable");
    // A folder with its manifest and labels, but no weights.
    let models = TempModels::new("weightless");
    models.model_from("weightless", "nanodet", &["manifest.json", "labels.txt"]);
    let s = Server::start(ServerConfig {
        preload: false,
        models: Some(models.0.clone()),
        env: vec![("WASI_DETECT_MODEL".into(), "weightless".into())],
        ..ServerConfig::default()
    });
    let m = s
        .post_fixture("/predict", "chelsea.png")
        .assert_error(503, "model_unavailable");
    assert!(
        m.contains("model 'weightless'") && m.contains("/models/weightless/model.onnx"),
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
fn models_lists_what_is_served_and_model_picks_one() {
    let s = server();
    let list = s.request(Request::get("/models"));
    assert_eq!(list.status, 200, "{}", list.text());
    assert_eq!(
        list.json(),
        json!({"default": "nanodet", "models": [
            {"name": "nanodet", "family": "nanodet", "input_size": 416, "classes": 80, "threshold": 0.35},
            {"name": "centernet", "family": "centernet", "input_size": 512, "classes": 80, "threshold": 0.2},
            {"name": "coco-ssd", "family": "ssd", "input_size": 300, "classes": 80, "threshold": 0.5},
        ]})
    );

    // The other model answers for itself: its own default threshold.
    let r = s.post_fixture("/predict?model=centernet", "astronaut.jpg");
    assert_eq!(r.status, 200, "{}", r.text());
    let found = api_detections(&r.json());
    assert!(found.iter().any(|d| d.class == "person"), "{found:?}");
    assert!(found.iter().all(|d| d.score > 0.2), "{found:?}");
    let people = api_detections(
        &s.post_fixture("/predict?model=centernet&classes=person", "astronaut.jpg")
            .json(),
    );
    assert!(!people.is_empty() && people.iter().all(|d| d.class == "person"));
    // The default model is also there by name.
    assert_eq!(
        s.post_fixture("/predict?model=nanodet", "chelsea.png")
            .json(),
        s.post_fixture("/predict", "chelsea.png").json()
    );

    // A model that is not served: 404, with those that are.
    for name in ["yolo", "nanodet-ov", "..%2Fnanodet", "examples"] {
        let r = s.post_fixture(&format!("/predict?model={name}"), "chelsea.png");
        let m = r.assert_error(404, "model_not_found");
        assert!(m.contains("nanodet, centernet, coco-ssd"), "{m}");
        assert_eq!(
            r.json()["available"],
            json!(["nanodet", "centernet", "coco-ssd"])
        );
        s.request(Request::get(&format!("/warm?model={name}")))
            .assert_error(404, "model_not_found");
    }
    // Classes are the model's.
    s.post_fixture("/predict?model=centernet&classes=unicorn", "chelsea.png")
        .assert_error(400, "invalid_parameter");

    let warm = s.request(Request::get("/warm?model=centernet")).json();
    assert_eq!(
        (warm["model"].as_str(), warm["source"].as_str()),
        (Some("centernet"), Some("load-by-name")),
        "{warm}"
    );
    s.request(Request::get("/warm?threshold=1"))
        .assert_error(400, "invalid_parameter");
}

#[test]
fn format_hf_answers_as_hugging_faces_pipeline() {
    let s = server();
    for model in ["nanodet", "centernet", "coco-ssd"] {
        let ours = s
            .post_fixture(&format!("/predict?model={model}"), "camera.png")
            .json();
        let r = s.post_fixture(&format!("/predict?model={model}&format=hf"), "camera.png");
        assert_eq!(r.status, 200, "{}", r.text());
        let hf = r.json();
        let (ours, hf) = (ours.as_array().unwrap(), hf.as_array().unwrap());
        assert!(!ours.is_empty());
        assert_eq!(ours.len(), hf.len());
        for (o, h) in ours.iter().zip(hf) {
            let keys: Vec<&String> = h.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["box", "label", "score"]);
            assert_eq!(
                h,
                &json!({
                    "score": o["score"], "label": o["class"],
                    "box": {"xmin": o["bbox"][0]["x"], "ymin": o["bbox"][0]["y"],
                            "xmax": o["bbox"][1]["x"], "ymax": o["bbox"][1]["y"]},
                })
            );
        }
    }
    s.post_fixture("/predict?format=xml", "camera.png")
        .assert_error(400, "invalid_parameter");
}

/// NanoDet's manifest, changed by `change`.
fn nanodet_manifest(change: impl FnOnce(&mut Value)) -> String {
    model_manifest("nanodet", change)
}

/// `model`'s manifest, changed by `change`.
fn model_manifest(model: &str, change: impl FnOnce(&mut Value)) -> String {
    let path = common::models_dir().join(model).join("manifest.json");
    let mut manifest: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    change(&mut manifest);
    manifest.to_string()
}

#[test]
fn manifest_problems_are_503s_naming_the_file_and_the_field() {
    let models = TempModels::new("manifests");
    let nanodet = ["manifest.json", "labels.txt", "model.onnx"];
    models.model_from("nanodet", "nanodet", &nanodet);
    // name, what is wrong, the field named
    let broken: Vec<(&str, String, &str)> = vec![
        (
            "no-family",
            nanodet_manifest(|m| {
                m["decoder"].as_object_mut().unwrap().remove("family");
            }),
            "decoder.family: is missing",
        ),
        (
            "unknown-family",
            nanodet_manifest(|m| m["decoder"]["family"] = json!("detr")),
            "decoder.family: 'detr' is not one of nanodet, centernet, yolo, ssd",
        ),
        (
            "bad-shape",
            nanodet_manifest(|m| m["input"]["shape"] = json!([1, 416, 416, 3])),
            "input.shape: [1, 416, 416, 3] is not [1, 3, side, side]",
        ),
        (
            "not-json",
            "{\"input\": ".to_string(),
            "not valid JSON at line 1",
        ),
        // Manifests that read well but do not describe the graph: the
        // weights are NanoDet's, the manifest says CenterNet's input...
        (
            "wrong-input",
            std::fs::read_to_string(common::models_dir().join("centernet/manifest.json")).unwrap(),
            "check input.name 'images' and input.shape [1, 512, 512, 3] in /models/wrong-input/manifest.json",
        ),
        // ...or a fourth stride, whose rows the outputs do not have.
        (
            "more-strides",
            nanodet_manifest(|m| m["decoder"]["strides"] = json!([8, 16, 32, 64])),
            "decoder.scores: the graph's output 'scores' is [1, 3549, 80], not [1, 3598, 80]",
        ),
    ];
    // coco-ssd's fields: its resize filter, and its labels' COCO ids.
    let coco_ssd: Vec<(&str, String, &str)> = vec![
        (
            "bad-filter",
            model_manifest("coco-ssd", |m| {
                m["preprocess"]["filter"] = json!("lanczos");
            }),
            "preprocess.filter: 'lanczos' is not one of bilinear, tf-bilinear",
        ),
        (
            "bad-ids",
            model_manifest("coco-ssd", |m| {
                m["labels"]["ids"].as_array_mut().unwrap().pop();
            }),
            "labels.ids: has 79 values, not 80 (one per label)",
        ),
    ];
    for (weights, cases) in [("nanodet", &broken), ("coco-ssd", &coco_ssd)] {
        for (name, manifest, _) in cases {
            models.model_from(name, weights, &["labels.txt", "model.onnx"]);
            models.write(&format!("{name}/manifest.json"), manifest);
        }
    }
    models.model_from("few-labels", "nanodet", &["manifest.json", "model.onnx"]);
    models.write("few-labels/labels.txt", "person\ncar\n");
    let s = Server::start(ServerConfig {
        preload: false,
        models: Some(models.0.clone()),
        ..ServerConfig::default()
    });
    let mut cases: Vec<(&str, &str)> = broken
        .iter()
        .chain(&coco_ssd)
        .map(|(n, _, f)| (*n, *f))
        .collect();
    cases.push((
        "few-labels",
        "labels.txt has 2 names, but /models/few-labels/manifest.json's labels.count says 80",
    ));
    for (name, says) in cases {
        let file = if name == "few-labels" {
            "labels.txt"
        } else {
            "manifest.json"
        };
        for r in [
            s.request(Request::get(&format!("/warm?model={name}"))),
            s.post_fixture(&format!("/predict?model={name}"), "chelsea.png"),
        ] {
            let m = r.assert_error(503, "model_unavailable");
            assert!(m.contains(&format!("/models/{name}/{file}")), "{name}: {m}");
            assert!(m.contains(says), "{name}: {m}");
        }
    }
    // /models says what is wrong with each, and the good model still works.
    let list = s.request(Request::get("/models")).json();
    let listed = list["models"].as_array().unwrap();
    assert_eq!(listed.len(), 10, "{list}");
    for m in listed {
        let ok = ["nanodet", "wrong-input", "more-strides"].contains(&m["name"].as_str().unwrap());
        assert_eq!(m["error"].is_null(), ok, "{m}");
    }
    let r = s.post_fixture("/predict", "chelsea.png");
    assert_eq!(api_detections(&r.json())[0].class, "cat");
}

#[test]
fn without_a_preloaded_graph_the_model_is_read_from_the_models_folder() {
    // One request in flight, so each request finds the instance the one
    // before it used (as tests/memory.rs): under load a second one could
    // be made while the first is handed back.
    let s = Server::start(ServerConfig {
        preload: false,
        args: vec!["--max-in-flight".into(), "1".into()],
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
    // The host may send an answer's last bytes before its instance is back
    // in the pool, and a request that comes in at that moment gets a new
    // instance: a pause lets the instance get back first.
    let settle = || std::thread::sleep(std::time::Duration::from_millis(300));
    settle();
    let warm = s.request(Request::get("/warm")).json();
    assert_eq!(warm["source"], "/models/nanodet/model.onnx", "{warm}");
    assert_eq!(warm["loaded_now"], false, "{warm}");
    settle();
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
