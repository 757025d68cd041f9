//! coco-ssd (`models/coco-ssd`, SSDLite MobileNetV2) answers as TF.js
//! coco-ssd itself does: `@tensorflow-models/coco-ssd` run by TensorFlow.js
//! in Node.js on every test photo and the phone-sized JPEGs made from them
//! (`tests/reference/coco-ssd/`), against
//! `/predict?model=coco-ssd` on each engine that runs it: ONNX Runtime,
//! OpenVINO, and tract inside the portable build; and private mode's
//! `cocoSsd`, which a page written for TF.js coco-ssd imports instead, against
//! coco-ssd itself in the same browser.

mod common;

use common::{
    agreement_with_coco_ssd, api_detections, coco_ssd_detections, coco_ssd_reference, fixture,
    Agreement, Backend, Det, Request, Server, ServerConfig, PHOTOS, VS_COCO_SSD,
};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The model's folder on each backend.
fn coco_ssd(backend: Backend) -> &'static str {
    match backend {
        Backend::Openvino => "coco-ssd-ov",
        Backend::Onnx | Backend::Portable => "coco-ssd",
    }
}

#[test]
fn every_engine_answers_as_tfjs_coco_ssd() {
    let mut paths: Vec<PathBuf> = PHOTOS.iter().map(|p| fixture(p)).collect();
    paths.extend(common::phone_photos());
    let reference = coco_ssd_reference(&paths);
    assert_eq!(reference.len(), paths.len());
    let found: usize = reference.iter().map(|(_, d)| d.len()).sum();
    assert!(found >= PHOTOS.len(), "coco-ssd found only {found} objects");

    for backend in [Backend::Onnx, Backend::Openvino, Backend::Portable] {
        let model = coco_ssd(backend);
        // The portable build as Spin serves it.
        let config = match backend {
            Backend::Portable => ServerConfig::spin(),
            _ => ServerConfig::backend(backend),
        };
        let server = Server::start(config);
        let listed = server.request(Request::get("/models")).json();
        let entry = listed["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == model)
            .unwrap_or_else(|| panic!("{model} is not served: {listed}"));
        assert_eq!(
            (&entry["family"], &entry["input_size"], &entry["threshold"]),
            (&json!("ssd"), &json!(300), &json!(0.5)),
            "{entry}"
        );
        let label = format!("{} {model}", backend.name());
        let predict = format!("/predict?model={model}");
        let worst = agreement_with_coco_ssd(&server, &label, &predict, &paths, &reference);
        println!(
            "{model} on {:?}: {found} detections of coco-ssd matched; largest score difference {:.4}, smallest IoU {:.4}",
            backend, worst.score, worst.iou
        );

        // At the defaults, ours is coco-ssd's call: threshold 0.5, 20 boxes.
        let (image, theirs) = &reference[0];
        let r = server.post_fixture(&format!("/predict?model={model}"), image);
        assert_eq!(api_detections(&r.json()).len(), theirs.len(), "{image}");
    }
}

/// `tests/reference/coco-ssd/<script>`'s one line of output: a folder.
fn reference_dir(script: &str) -> PathBuf {
    let out = Command::new("bash")
        .arg(common::root().join("tests/reference/coco-ssd").join(script))
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("run {script}: {e}"));
    assert!(out.status.success(), "{script} failed");
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

#[test]
fn a_page_written_for_tfjs_coco_ssd_gets_its_answers_by_changing_its_import() {
    // The same calls, on the same page, by TF.js coco-ssd itself and by
    // private mode's `cocoSsd` (tests/browser/coco-ssd.mjs).
    let server = Server::start(ServerConfig::default());
    let playwright = common::root().join("tests/browser/node_modules/playwright-core");
    assert!(
        playwright.exists(),
        "playwright-core is missing; `make browser-deps` installs it"
    );
    let modules = reference_dir("install.sh");
    let model = reference_dir("model.sh");
    let out = Command::new("node")
        .arg(common::root().join("tests/browser/coco-ssd.mjs"))
        .arg(format!("http://{}/", server.addr))
        .args([&modules, &model, &common::root().join("tests/fixtures")])
        .stderr(Stdio::inherit())
        .output()
        .expect("run node tests/browser/coco-ssd.mjs");
    assert!(out.status.success(), "the browser script failed");
    let seen: Value = serde_json::from_slice(&out.stdout).expect("the script prints JSON");

    assert_eq!(seen["loaded"]["methods"], json!(["detect", "dispose"]));
    let refused = &seen["loaded"]["refused"];
    assert_eq!(
        (&refused["name"], &refused["code"]),
        (&json!("DetectError"), &json!("invalid_parameter")),
        "{refused}"
    );
    let mut worst = Agreement::EXACT;
    let mut found = 0;
    for (id, call) in seen["calls"].as_object().unwrap() {
        let theirs = coco_ssd_detections(&call["theirs"]);
        let ours = coco_ssd_detections(&call["ours"]);
        for d in theirs.iter().chain(&ours) {
            assert!(
                d.bbox[2] > d.bbox[0] && d.bbox[3] > d.bbox[1],
                "{id}: {d:?}"
            );
        }
        assert!(
            ours.windows(2).all(|w| w[0].score >= w[1].score),
            "{id}: not best first: {ours:?}"
        );
        let (max, min) = match call["args"].as_array().unwrap()[..] {
            [ref max, ref min] => (max.as_u64().unwrap() as usize, min.as_f64().unwrap()),
            _ => (20, 0.5),
        };
        assert!(
            ours.len() <= max && ours.iter().all(|d| d.score > min),
            "{id}: {ours:?}"
        );
        // Both are asked at the same threshold: what scores within the
        // tolerance of it may fall on either side, so only coco-ssd's
        // detections clear of it must be ours too.
        let clear: Vec<Det> = theirs
            .iter()
            .filter(|d| d.score > min + VS_COCO_SSD.score)
            .cloned()
            .collect();
        found += clear.len();
        worst = worst.worst(common::assert_agrees_with_coco_ssd(
            id,
            "the drop-in",
            &ours,
            &clear,
        ));
        // An <img> is answered in its laid-out pixels, as coco-ssd draws it.
        if let Some([w, h]) = call["size"]
            .as_array()
            .map(|s| [s[0].as_f64(), s[1].as_f64()])
        {
            let (w, h) = (w.unwrap(), h.unwrap());
            assert!(
                ours.iter()
                    .all(|d| d.bbox[2] <= w + 1.0 && d.bbox[3] <= h + 1.0),
                "{id}: boxes beyond the {w}x{h} laid out: {ours:?}"
            );
        }
    }
    println!(
        "the drop-in against TF.js coco-ssd in the browser: {found} detections matched; largest score difference {:.4}, smallest IoU {:.4}",
        worst.score, worst.iou
    );
    assert!(
        found >= 8,
        "coco-ssd found only {found} objects clear of the threshold"
    );
    // The call at 0.2 tells coco-ssd's suppression from ours at the model's
    // overlap: the drop-in asked for coco-ssd's, and got its answer above.
    let own = server.post_fixture("/predict?model=coco-ssd&threshold=0.2&max=5", "coffee.png");
    let classes: Vec<String> = api_detections(&own.json())
        .into_iter()
        .map(|d| d.class)
        .collect();
    assert_eq!(
        classes,
        ["cup", "dining table"],
        "at /predict's own overlap"
    );
    let call = &seen["calls"]["img coffee.png, 5 boxes from 0.2"];
    assert_eq!(coco_ssd_detections(&call["theirs"]).len(), 1, "{call}");
    let e = &seen["notAnImage"];
    assert_eq!(
        (&e["isDetectError"], &e["code"], &e["status"]),
        (&json!(true), &json!("bad_request"), &json!(400)),
        "{e}"
    );
    assert_eq!(seen["consoleErrors"], json!([]), "the page's console");
}
