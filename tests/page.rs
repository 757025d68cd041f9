//! The demo page at `GET /`, in a real browser: headless Chromium driven by
//! Playwright (`tests/browser/page.mjs`) against the real server. The boxes
//! the page lists must be what `/predict` answers for the same photo.

mod common;

use common::{api_detections, fixture, flat_detections, root, Det, Request, Server, ServerConfig};
use std::process::{Command, Stdio};

/// Runs the browser script against `server`; returns what it saw.
fn drive_page(server: &Server, photo: &str, rotated: &str) -> serde_json::Value {
    let node_modules = root().join("tests/browser/node_modules/playwright-core");
    assert!(
        node_modules.exists(),
        "playwright-core is missing; `make browser-deps` installs it"
    );
    let artifacts = root().join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let screenshot = artifacts.join("page.png");
    let out = Command::new("node")
        .arg(root().join("tests/browser/page.mjs"))
        .arg(format!("http://{}/", server.addr))
        .arg(fixture(photo))
        .arg(fixture(rotated))
        .arg(&screenshot)
        .stderr(Stdio::inherit())
        .output()
        .expect("run node tests/browser/page.mjs");
    assert!(out.status.success(), "the browser script failed");
    assert!(screenshot.exists(), "no screenshot");
    println!("screenshot: {}", screenshot.display());
    serde_json::from_slice(&out.stdout).expect("the browser script prints JSON")
}

fn assert_equal(what: &str, drawn: &[Det], api: &[Det]) {
    assert_eq!(
        drawn.len(),
        api.len(),
        "{what}: page {drawn:?}, api {api:?}"
    );
    for (d, a) in drawn.iter().zip(api) {
        assert_eq!(
            (&d.class, d.score, d.bbox),
            (&a.class, a.score, a.bbox),
            "{what}"
        );
    }
}

#[test]
fn the_page_warms_uploads_and_draws_what_predict_returns() {
    let server = Server::start(ServerConfig::default());
    let (photo, rotated) = ("camera.png", "coffee-rotated.jpg");
    let seen = drive_page(&server, photo, rotated);

    assert_eq!(seen["warm"]["state"], "ready", "{}", seen["warm"]);
    assert!(
        seen["warm"]["status"].as_str().unwrap().contains(" ms"),
        "{}",
        seen["warm"]
    );
    assert_eq!(seen["examples"].as_array().unwrap().len(), 4, "{seen}");
    // The server has three models: a selector, the default chosen, and the
    // slider at its threshold.
    assert_eq!(
        seen["models"],
        serde_json::json!({"shown": true, "options": ["nanodet", "centernet", "coco-ssd"],
                           "selected": "nanodet", "threshold": "0.35"}),
    );

    // The photo: the boxes listed (and drawn) are /predict's answer at the
    // page's default threshold, in the photo's own pixels.
    let api = api_detections(&server.post_fixture("/predict", photo).json());
    assert!(api.len() >= 2, "{api:?}");
    let p = &seen["photo"];
    assert_eq!(p["state"], "done", "{p}");
    assert_equal(photo, &flat_detections(&p["detections"]), &api);
    assert_eq!(p["boxes"].as_u64(), Some(api.len() as u64));
    assert_eq!(p["viewBox"], "0 0 512 512");
    assert!(
        p["timing"].as_str().unwrap().contains("inference"),
        "{}",
        p["timing"]
    );

    // The slider filtered locally: fewer boxes, no new upload.
    let high = flat_detections(&seen["highThreshold"]["detections"]);
    let want_high: Vec<Det> = api.iter().filter(|d| d.score >= 0.95).cloned().collect();
    assert_equal("threshold 0.95", &high, &want_high);
    assert_eq!(seen["highThreshold"]["uploads"], 0);

    // The EXIF-rotated JPEG is shown upright (600x400) with /predict's boxes.
    let r = &seen["rotated"];
    assert_eq!(r["state"], "done", "{r}");
    assert_eq!(r["viewBox"], "0 0 600 400");
    let api = api_detections(&server.post_fixture("/predict", rotated).json());
    assert_equal(rotated, &flat_detections(&r["detections"]), &api);

    assert_eq!(seen["example"]["state"], "done", "{}", seen["example"]);

    // CenterNet chosen: the example photo (the first, astronaut.jpg) again,
    // with its answer at its own threshold.
    let other = &seen["otherModel"];
    assert_eq!(other["state"], "done", "{other}");
    assert!(
        other["status"].as_str().unwrap().contains("centernet"),
        "{other}"
    );
    assert_eq!(other["threshold"], "0.2", "{other}");
    let api = api_detections(
        &server
            .post_fixture("/predict?model=centernet", "astronaut.jpg")
            .json(),
    );
    assert!(!api.is_empty());
    assert_equal(
        "astronaut.jpg with centernet",
        &flat_detections(&other["detections"]),
        &api,
    );

    // Refusals are shown in the server's words.
    let o = &seen["oversize"];
    assert_eq!(o["state"], "error", "{o}");
    assert!(o["error"].as_str().unwrap().contains("5 MB"), "{o}");
    let w = &seen["wrongType"];
    assert_eq!(w["state"], "error", "{w}");
    assert!(w["error"].as_str().unwrap().contains("image/jpeg"), "{w}");

    assert_eq!(seen["consoleErrors"], serde_json::json!([]), "{seen}");
}

#[test]
fn the_page_and_the_examples_are_served() {
    let server = Server::start(ServerConfig::default());
    let page = server.request(Request::get("/"));
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let html = String::from_utf8(page.body).unwrap();
    // Self-contained: nothing is fetched from another origin.
    for external in ["http://", "https://", "//fonts", "cdn"] {
        let found = html
            .match_indices(external)
            .any(|(i, _)| !html[i..].starts_with("http://www.w3.org/2000/svg"));
        assert!(!found, "the page refers to {external}");
    }

    let list = server.request(Request::get("/examples")).json();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "astronaut.jpg",
            "camera.png",
            "chelsea-progressive.jpg",
            "coffee-rotated.jpg"
        ]
    );
    let jpeg = server.request(Request::get("/examples/astronaut.jpg"));
    assert_eq!(jpeg.status, 200);
    assert_eq!(jpeg.header("content-type"), Some("image/jpeg"));
    assert_eq!(
        jpeg.body,
        std::fs::read(fixture("astronaut.jpg")).unwrap(),
        "the example is the file"
    );
    server
        .request(Request::get("/examples/missing.jpg"))
        .assert_error(404, "not_found");
}
