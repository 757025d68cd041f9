//! Private mode: the detector component itself, transpiled by jco, running in
//! the visitor's browser (`/wasi-detect.js`, built by `make browser`), with
//! the model run by onnxruntime-web. In headless Chromium against the real
//! server (`tests/browser/private.mjs`):
//!
//! - `detector.detect` gives what `POST /predict` gives for every test photo,
//!   with NanoDet and CenterNet, with options, and in Hugging Face's format;
//! - it refuses what the server refuses, with the same code and status;
//! - once loaded it makes no request but GETs of static files, sends no
//!   photo anywhere, and works the same with the network cut;
//! - the demo page switches between the server and this browser, and shows
//!   the same boxes either way.

mod common;

use common::{api_detections, fixture, flat_detections, root, Det, Request, Server, ServerConfig};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// How close the page's detections must be to the server's: the same model
/// run by onnxruntime-web instead of the host's ONNX Runtime.
const SCORE: f64 = 0.02;
const IOU: f64 = 0.95;

/// One `detector.detect` call in the page and the `/predict` request it
/// stands for.
#[derive(Debug, Clone)]
struct Call {
    id: String,
    file: PathBuf,
    /// The Blob's type, or `options.type` for bytes; "" for none.
    content_type: String,
    /// How the page hands the bytes to `detect`: "blob" or "bytes".
    as_: String,
    options: Value,
    /// None: 200 and the server's answer; else the status and code both the
    /// server and the page refuse it with.
    error: Option<(u16, String)>,
}

impl Call {
    /// `/predict` with `options` as its query, as docs/api.md writes it
    /// (the page's detector encodes them its own way: `URLSearchParams`).
    fn path(&self) -> String {
        let mut query = vec![];
        for key in ["model", "threshold", "max", "format", "classes"] {
            let value = match &self.options[key] {
                Value::Null => continue,
                Value::String(s) => s.clone(),
                Value::Array(a) => {
                    let names: Vec<&str> = a.iter().map(|c| c.as_str().unwrap()).collect();
                    names.join(",")
                }
                v => v.to_string(),
            };
            query.push(format!("{key}={}", value.replace(' ', "%20")));
        }
        if query.is_empty() {
            "/predict".into()
        } else {
            format!("/predict?{}", query.join("&"))
        }
    }

    fn server_answer(&self, server: &Server) -> common::Response {
        let bytes = std::fs::read(&self.file).unwrap();
        let mut request = Request::post(&self.path()).body(bytes);
        if !self.content_type.is_empty() {
            request = request.header("content-type", &self.content_type);
        }
        server.request(request)
    }
}

/// The photos of tests/fixtures/: every JPEG and PNG there.
fn photos() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("tests/fixtures"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| content_type(n).is_some())
        .collect();
    names.sort();
    for photo in common::PHOTOS {
        assert!(
            names.iter().any(|n| n == photo),
            "{photo} is not in tests/fixtures/"
        );
    }
    names
}

fn content_type(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".png") {
        Some("image/png")
    } else if lower.ends_with(".jpg") || lower.ends_with(".jpeg") {
        Some("image/jpeg")
    } else {
        None
    }
}

/// Bodies made here, written under `dir`: too big to commit, or not images.
fn make_inputs(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let astronaut = std::fs::read(fixture("astronaut.jpg")).unwrap();
    // Noise from a fixed LCG: the same bytes every run.
    let mut state = 0x2545_f491_u32;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 24) as u8
        })
        .collect();
    let files: [(&str, Vec<u8>); 6] = [
        ("six-mb.jpg", vec![0u8; 6 * 1024 * 1024]),
        ("not-an-image.txt", b"not an image".to_vec()),
        ("noise.bin", noise),
        ("empty.png", vec![]),
        ("gif.gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec()),
        (
            "astronaut-third.jpg",
            astronaut[..astronaut.len() / 3].to_vec(),
        ),
    ];
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

/// Calls besides the photos: options, each of which changes the answer (the
/// test checks), and what the page must refuse as the server does.
///
/// `id | file | type | as | options | answer`: the file in tests/fixtures/,
/// tests/corpus/ or made by `make_inputs`; the type ("-" for none) given as
/// a Blob's (`blob`) or with bytes (`bytes`); the answer, 200 or the
/// refusal's status and code.
const CALLS: &str = r#"
options/camera.png | fixtures/camera.png | image/png | blob | {"threshold": 0.25, "max": 3, "classes": ["person", "car", "cell phone", "dining table"]} | 200
options/astronaut.jpg, centernet | fixtures/astronaut.jpg | image/jpeg | blob | {"model": "centernet", "threshold": 0.1, "max": 2} | 200
hf/astronaut.jpg | fixtures/astronaut.jpg | image/jpeg | bytes | {"format": "hf", "threshold": 0.2} | 200
error/text/plain | fixtures/chelsea.png | text/plain | blob | {} | 415 unsupported_media_type
error/no type | fixtures/chelsea.png | - | blob | {} | 415 unsupported_media_type
error/gif | made/gif.gif | image/gif | blob | {} | 415 unsupported_media_type
error/png as jpeg | fixtures/chelsea.png | image/jpeg | blob | {} | 422 invalid_image
error/jpeg as png | fixtures/astronaut.jpg | image/png | bytes | {} | 422 invalid_image
error/text as jpeg | made/not-an-image.txt | image/jpeg | blob | {} | 422 invalid_image
error/noise as png | made/noise.bin | image/png | bytes | {} | 422 invalid_image
error/truncated jpeg | corpus/truncated.jpg | image/jpeg | blob | {} | 422 invalid_image
error/a third of a jpeg | made/astronaut-third.jpg | image/jpeg | blob | {} | 422 invalid_image
error/truncated png | corpus/truncated.png | image/png | blob | {} | 422 invalid_image
error/png of 60000x60000 | corpus/bomb-60000x60000.png | image/png | blob | {} | 413 image_too_large
error/jpeg of 60000x60000 | corpus/sof-60000x60000.jpg | image/jpeg | blob | {} | 413 image_too_large
error/png 100000 wide | corpus/wide-100000x1.png | image/png | blob | {} | 413 image_too_large
error/6 MB | made/six-mb.jpg | image/jpeg | blob | {} | 413 payload_too_large
error/empty | made/empty.png | image/png | blob | {} | 400 bad_request
error/threshold 2 | fixtures/chelsea.png | image/png | blob | {"threshold": 2} | 400 invalid_parameter
error/threshold x | fixtures/chelsea.png | image/png | blob | {"threshold": "x"} | 400 invalid_parameter
error/max 0 | fixtures/chelsea.png | image/png | blob | {"max": 0} | 400 invalid_parameter
error/max 101 | fixtures/chelsea.png | image/png | blob | {"max": 101} | 400 invalid_parameter
error/format xml | fixtures/chelsea.png | image/png | blob | {"format": "xml"} | 400 invalid_parameter
error/unknown class | fixtures/chelsea.png | image/png | blob | {"classes": ["unicorn"]} | 400 invalid_parameter
error/unknown class, centernet | fixtures/chelsea.png | image/png | blob | {"model": "centernet", "classes": ["person", "unicorn"]} | 400 invalid_parameter
error/unknown model | fixtures/chelsea.png | image/png | blob | {"model": "yolo9000"} | 404 model_not_found
"#;

/// Every call: each photo with NanoDet, CenterNet and coco-ssd, then CALLS.
fn calls(made: &Path) -> Vec<Call> {
    let mut calls = vec![];
    for photo in photos() {
        for (model, options) in [
            ("nanodet", json!({})),
            ("centernet", json!({"model": "centernet"})),
            ("coco-ssd", json!({"model": "coco-ssd"})),
        ] {
            calls.push(Call {
                id: format!("{model}/{photo}"),
                file: fixture(&photo),
                content_type: content_type(&photo).unwrap().into(),
                as_: "blob".into(),
                options,
                error: None,
            });
        }
    }
    for line in CALLS.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split(" | ").collect();
        let [id, file, ct, as_, options, answer] = f[..] else {
            panic!("CALLS: {line}")
        };
        let (folder, name) = file.split_once('/').unwrap();
        let file = match folder {
            "made" => made.join(name),
            _ => root().join("tests").join(folder).join(name),
        };
        let error = answer
            .split_once(' ')
            .map(|(status, code)| (status.parse().unwrap(), code.into()));
        calls.push(Call {
            id: id.into(),
            file,
            content_type: if ct == "-" { String::new() } else { ct.into() },
            as_: as_.into(),
            options: serde_json::from_str(options).unwrap(),
            error,
        });
    }
    calls
}

/// Hugging Face's shape: `{score, label, box: {xmin, ymin, xmax, ymax}}`.
fn hf_detections(answer: &Value) -> Vec<Det> {
    answer
        .as_array()
        .expect("an array")
        .iter()
        .map(|d| {
            let b = |k: &str| d["box"][k].as_f64().expect("a corner");
            Det {
                class: d["label"].as_str().expect("a label").to_string(),
                score: d["score"].as_f64().expect("a score"),
                bbox: [b("xmin"), b("ymin"), b("xmax"), b("ymax")],
            }
        })
        .collect()
}

/// The largest score difference and the smallest IoU seen, for the report.
#[derive(Debug, Default)]
struct Closeness {
    score: f64,
    iou: f64,
    detections: usize,
}

/// The page's detections are the server's: as many, in the same order, the
/// same classes, scores within SCORE, boxes with IoU over IOU.
fn assert_same(what: &str, page: &[Det], server: &[Det], seen: &mut Closeness) {
    assert_eq!(
        page.iter().map(|d| &d.class).collect::<Vec<_>>(),
        server.iter().map(|d| &d.class).collect::<Vec<_>>(),
        "{what}: the page's classes (in order) are not the server's\npage {page:#?}\nserver {server:#?}"
    );
    for (p, s) in page.iter().zip(server) {
        let (score, iou) = ((p.score - s.score).abs(), p.iou(s));
        assert!(
            score <= SCORE && iou > IOU,
            "{what}: page {p:?} and server {s:?}: score {score:.3} apart, IoU {iou:.3}"
        );
        seen.score = seen.score.max(score);
        seen.iou = if seen.detections == 0 {
            iou
        } else {
            seen.iou.min(iou)
        };
        seen.detections += 1;
    }
}

/// Whether `text` has a time in milliseconds: digits, then " ms".
fn has_ms(text: &str) -> bool {
    text.match_indices(" ms").any(|(i, _)| {
        text[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_digit())
    })
}

/// Runs the browser script; returns what it saw.
fn drive(server: &Server, calls: &[Call], offline: &[String], artifacts: &Path) -> Value {
    let playwright = root().join("tests/browser/node_modules/playwright-core");
    assert!(
        playwright.exists(),
        "playwright-core is missing; `make browser-deps` installs it"
    );
    let entry = common::models_dir().join("browser/wasi-detect.js");
    assert!(
        entry.exists(),
        "{} is missing; `make browser` builds it",
        entry.display()
    );
    let spec = json!({
        "calls": calls.iter().map(|c| json!({
            "id": c.id, "file": c.file, "type": c.content_type, "as": c.as_, "options": c.options,
        })).collect::<Vec<_>>(),
        "offline": offline,
        "page": { "photo": fixture("camera.png"), "second": fixture("coffee-rotated.jpg") },
    });
    let spec_file = artifacts.join("private-calls.json");
    std::fs::write(&spec_file, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
    let screenshot = artifacts.join("private.png");
    let _ = std::fs::remove_file(&screenshot);
    let out = Command::new("node")
        .arg(root().join("tests/browser/private.mjs"))
        .arg(format!("http://{}/", server.addr))
        .arg(&spec_file)
        .arg(&screenshot)
        .stderr(Stdio::inherit())
        .output()
        .expect("run node tests/browser/private.mjs");
    assert!(out.status.success(), "the browser script failed");
    assert!(screenshot.exists(), "no screenshot");
    println!("screenshot: {}", screenshot.display());
    if std::env::var_os("UPDATE_DOCS").is_some_and(|v| v == "1") {
        let docs = root().join("docs/private.png");
        std::fs::copy(&screenshot, &docs).unwrap();
        println!("copied to {}", docs.display());
    }
    // What the browser saw, for a look after a failure.
    std::fs::write(artifacts.join("private-seen.json"), &out.stdout).unwrap();
    serde_json::from_slice(&out.stdout).expect("the browser script prints JSON")
}

/// A GET of one of private mode's static files (or the model list), with
/// no query: `/wasi-detect.js`, `/browser/<dir>/<file>`, `/models`,
/// `/models/<name>/{model.onnx,manifest.json,labels.txt}`.
fn static_file(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    let plain = |s: &str| {
        !s.is_empty()
            && !s.starts_with('.')
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    };
    match parts[..] {
        ["", "wasi-detect.js"] | ["", "models"] => true,
        ["", "browser", dir, file] => plain(dir) && plain(file),
        ["", "models", name, file] => {
            plain(name) && matches!(file, "model.onnx" | "manifest.json" | "labels.txt")
        }
        _ => false,
    }
}

/// Every request of `phases` is a GET of a static file of the server, with
/// no body; returns how many there were.
fn assert_static_only(what: &str, origin: &str, requests: &[Value], phases: &[&str]) -> usize {
    let mut n = 0;
    for r in requests
        .iter()
        .filter(|r| phases.contains(&r["phase"].as_str().unwrap()))
    {
        let url = r["url"].as_str().unwrap();
        // The page's own photo, shown from memory.
        if url.starts_with("blob:") || url.starts_with("data:") {
            continue;
        }
        n += 1;
        let path = url
            .strip_prefix(origin)
            .unwrap_or_else(|| panic!("{what}: a request to another origin: {r}"));
        assert_eq!(r["method"], "GET", "{what}: {r}");
        assert!(
            r["bodyBytes"].is_null(),
            "{what}: a request with a body: {r}"
        );
        assert!(static_file(path), "{what}: not a static file: {r}");
    }
    n
}

#[test]
fn private_mode_detects_in_the_browser_what_the_server_detects() {
    let server = Server::start(ServerConfig::default());
    let origin = format!("http://{}", server.addr);
    let artifacts = root().join("target/test-artifacts");
    let made = artifacts.join("private-inputs");
    make_inputs(&made);
    let calls = calls(&made);
    let offline: Vec<String> = calls
        .iter()
        .filter(|c| {
            c.id.starts_with("nanodet/")
                || c.id == "centernet/camera.png"
                || c.id == "error/png as jpeg"
        })
        .map(|c| c.id.clone())
        .collect();

    // The server's answers first, each checked as the call wants.
    let mut answers = BTreeMap::new();
    for call in &calls {
        let r = call.server_answer(&server);
        match &call.error {
            None => assert_eq!(r.status, 200, "{}: {}", call.id, r.text()),
            Some((status, code)) => {
                r.assert_error(*status, code);
            }
        }
        answers.insert(call.id.clone(), r);
    }
    // NanoDet finds something in every photo, and the options change the
    // answers: the page cannot pass by finding nothing or ignoring them.
    let answer = |id: &str| answers[id].json();
    for photo in photos() {
        let found = answer(&format!("nanodet/{photo}"));
        assert_ne!(found, json!([]), "{photo}: NanoDet finds nothing");
        let found = answer(&format!("coco-ssd/{photo}"));
        assert_ne!(found, json!([]), "{photo}: coco-ssd finds nothing");
    }
    assert_ne!(answer("options/camera.png"), answer("nanodet/camera.png"));
    assert_ne!(
        answer("options/astronaut.jpg, centernet"),
        answer("centernet/astronaut.jpg")
    );

    let seen = drive(&server, &calls, &offline, &artifacts);
    println!("timings (ms): {}", seen["timings"]);

    // Loaded from the server's own files, cross-origin isolated (threads).
    let load = &seen["load"];
    assert_eq!(load["supported"], true, "{load}");
    assert_eq!(
        load["models"],
        server.request(Request::get("/models")).json(),
        "the detector's model list is GET /models"
    );
    for name in ["load", "supported", "DetectError"] {
        assert!(
            load["exports"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e == name),
            "{load}"
        );
    }
    assert_eq!(
        seen["crossOriginIsolated"], true,
        "the page is not cross-origin isolated"
    );

    // Every call: the server's answer, or its refusal.
    let mut closeness = Closeness::default();
    for call in &calls {
        assert_answer(
            call,
            &answers[&call.id],
            &seen["online"][&call.id],
            &mut closeness,
        );
    }
    println!(
        "{} detections: scores at most {:.4} apart, IoU at least {:.4}",
        closeness.detections, closeness.score, closeness.iou
    );
    assert!(closeness.detections >= 30, "{closeness:?}");

    // What is not a Blob or bytes: refused as the server refuses requests.
    let e = &seen["notBytes"];
    assert_eq!(
        (&e["isError"], &e["name"], &e["code"], &e["status"]),
        (
            &json!(true),
            &json!("DetectError"),
            &json!("bad_request"),
            &json!(400)
        ),
        "{e}"
    );

    // Offline: the same answers, exactly.
    for id in &offline {
        for key in ["ok", "error"] {
            assert_eq!(
                seen["offline"][id].get(key),
                seen["online"][id].get(key),
                "{id}: offline, not what it was online"
            );
        }
    }
    assert_eq!(seen["offlineNavigator"], false);

    assert_network(&origin, &seen["api"]);
    assert_page(&server, &origin, &seen["page"], &mut closeness);

    assert_no_jspi(&seen["noJspi"]);
}

/// The page's `got` for `call` is the server's `answer`: the same detections
/// (within SCORE and IOU), or the same refusal as a `DetectError`.
fn assert_answer(call: &Call, server: &common::Response, got: &Value, closeness: &mut Closeness) {
    match &call.error {
        None => {
            let answer = got
                .get("ok")
                .unwrap_or_else(|| panic!("{}: {got}", call.id));
            let hf = call.options["format"] == "hf";
            let (page, want) = if hf {
                (hf_detections(answer), hf_detections(&server.json()))
            } else {
                (api_detections(answer), api_detections(&server.json()))
            };
            assert_same(&call.id, &page, &want, closeness);
        }
        Some((status, code)) => {
            let e = got
                .get("error")
                .unwrap_or_else(|| panic!("{}: not refused: {got}", call.id));
            let server_json = server.json();
            assert_eq!(e["isError"], true, "{}: {e}", call.id);
            assert_eq!(e["isDetectError"], true, "{}: {e}", call.id);
            assert_eq!(e["name"], "DetectError", "{}: {e}", call.id);
            assert_eq!(
                (e["code"].as_str(), e["status"].as_u64()),
                (Some(code.as_str()), Some(*status as u64)),
                "{}: the page's refusal is not the server's {server_json}",
                call.id
            );
            assert!(
                !e["message"].as_str().unwrap_or("").is_empty(),
                "{}: {e}",
                call.id
            );
            assert_eq!(
                e["message"], server_json["message"],
                "{}: the page's message is not the server's",
                call.id
            );
            if code == "model_not_found" {
                assert_eq!(e["available"], server_json["available"], "{}", call.id);
            }
        }
    }
}

/// The requests of the detector's page: nothing but GETs of static files,
/// no photo sent anywhere, and nothing at all once the network is cut.
fn assert_network(origin: &str, api: &Value) {
    let requests = api["requests"].as_array().unwrap();
    for r in requests {
        assert_ne!(r["method"], "POST", "{r}");
        assert!(r["bodyBytes"].is_null(), "a request with a body: {r}");
    }
    let loads = assert_static_only("load", origin, requests, &["load"]);
    assert!(loads >= 5, "the detector's load fetched {loads} files");
    assert_static_only("detect", origin, requests, &["detect"]);
    let cut: Vec<&Value> = requests
        .iter()
        .filter(|r| r["phase"] == "offline")
        .collect();
    assert!(cut.is_empty(), "requests with the network cut: {cut:?}");
    assert_eq!(api["consoleErrors"], json!([]), "{api}");
}

/// The page's `view` is in `state`, detecting `place` ("server" or
/// "browser").
fn assert_shown(view: &Value, state: &str, place: &str) {
    assert_eq!(
        (view["state"].as_str(), view["where"].as_str()),
        (Some(state), Some(place)),
        "{view}"
    );
}

/// The demo page: private mode chosen, two photos detected there; then the
/// server, then this browser again, each detecting the photo on the page.
fn assert_page(server: &Server, origin: &str, page: &Value, closeness: &mut Closeness) {
    let warm = &page["warm"];
    assert_shown(warm, "ready", "server");
    let choice = &page["choice"];
    assert_eq!(choice["fieldset"], true, "{choice}");
    assert_eq!(
        choice["server"],
        json!({"value": "server", "checked": true}),
        "{choice}"
    );
    assert_eq!(
        (
            &choice["browser"]["value"],
            &choice["browser"]["checked"],
            &choice["browser"]["disabled"]
        ),
        (&json!("browser"), &json!(false), &json!(false)),
        "{choice}"
    );
    assert!(
        choice["browser"]["label"]
            .as_str()
            .unwrap()
            .contains("this device"),
        "{choice}"
    );
    assert_eq!(choice["crossOriginIsolated"], true, "{choice}");

    // In this browser: loading, then ready with the time it took.
    let loaded = &page["loaded"];
    assert_eq!(loaded["where"], "browser", "{loaded}");
    assert_eq!(loaded["statusState"], "ready", "{loaded}");
    let status = loaded["status"].as_str().unwrap();
    assert!(
        status.contains("in this browser") && has_ms(status),
        "{status}"
    );
    let states: Vec<&str> = page["statusStates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap_or(""))
        .collect();
    assert!(
        states.ends_with(&["loading", "ready"]),
        "#status's states: {states:?}"
    );

    // A photo chosen there: /predict's boxes, found in this browser.
    let api = api_detections(&server.post_fixture("/predict", "camera.png").json());
    assert!(api.len() >= 2, "{api:?}");
    let here = &page["browser"];
    assert_shown(here, "done", "browser");
    let timing = here["timing"].as_str().unwrap();
    assert!(
        timing.contains("in this browser") && has_ms(timing),
        "{timing}"
    );
    assert_same(
        "camera.png in the page, in this browser",
        &flat_detections(&here["detections"]),
        &api,
        closeness,
    );
    assert_eq!(here["boxes"].as_u64(), Some(api.len() as u64), "{here}");
    assert_eq!(here["viewBox"], "0 0 512 512", "{here}");

    // One dropped there, stored sideways: shown upright, with its boxes.
    let second = &page["second"];
    assert_eq!(second["state"], "done", "{second}");
    assert_eq!(second["viewBox"], "0 0 600 400", "{second}");
    let api = api_detections(&server.post_fixture("/predict", "coffee-rotated.jpg").json());
    let in_browser = flat_detections(&second["detections"]);
    assert_same(
        "coffee-rotated.jpg in the page, in this browser",
        &in_browser,
        &api,
        closeness,
    );

    // Switched to the server: the photo on the page posted, /predict's
    // answer exactly; and back: the same as in this browser before.
    let again = &page["serverAgain"];
    assert_shown(again, "done", "server");
    assert!(
        again["timing"].as_str().unwrap().contains("on the server"),
        "{again}"
    );
    let listed = flat_detections(&again["detections"]);
    assert_eq!(format!("{listed:?}"), format!("{api:?}"), "server mode");
    let back = &page["browserAgain"];
    assert_shown(back, "done", "browser");
    assert_eq!(
        format!("{:?}", flat_detections(&back["detections"])),
        format!("{in_browser:?}"),
        "in this browser again"
    );

    // Private mode posted nothing; server mode did, so the recording sees
    // posts.
    let requests = page["requests"].as_array().unwrap();
    let fetched = assert_static_only(
        "the page in this browser",
        origin,
        requests,
        &["browser", "browser again"],
    );
    assert!(fetched >= 5, "private mode's load fetched {fetched} files");
    let posts = |phase: &str| {
        requests
            .iter()
            .filter(|r| r["phase"] == phase && r["method"] == "POST")
            .count()
    };
    assert!(posts("server again") >= 1, "{requests:?}");
    assert_eq!(page["consoleErrors"], json!([]), "{page}");
}

/// A browser without JSPI: private mode cannot be chosen, and the page says
/// why.
fn assert_no_jspi(old: &Value) {
    assert_eq!(old["disabled"], true, "{old}");
    assert_eq!(old["where"], "server", "{old}");
    assert_eq!(old["state"], "ready", "{old}");
    assert!(
        old["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("JSPI")),
        "no note on JSPI: {old}"
    );
    assert_eq!(old["consoleErrors"], json!([]), "{old}");
}
