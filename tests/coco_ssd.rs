//! coco-ssd (`models/coco-ssd`, SSDLite MobileNetV2) answers as TF.js
//! coco-ssd itself does: `@tensorflow-models/coco-ssd` run by TensorFlow.js
//! in Node.js on every test photo and the phone-sized JPEGs made from them
//! (`tests/reference/coco-ssd/`), against
//! `/predict?model=coco-ssd` on each engine that runs it: ONNX Runtime,
//! OpenVINO, and tract inside the portable build.

mod common;

use common::{
    api_detections, assert_agrees_with_coco_ssd, coco_ssd_reference, fixture, Agreement, Backend,
    Request, Server, ServerConfig, PHOTOS, VS_COCO_SSD,
};
use serde_json::json;
use std::path::PathBuf;

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
        let server = Server::start(ServerConfig::backend(backend));
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
        // Below coco-ssd's threshold by the tolerance, and more than its 20
        // boxes, so that a twin just under 0.5 is not cut from ours.
        let path = format!(
            "/predict?model={model}&threshold={}&max=100",
            VS_COCO_SSD.threshold - VS_COCO_SSD.score
        );
        let mut worst = Agreement::EXACT;
        for ((image, theirs), file) in reference.iter().zip(&paths) {
            assert!(file.ends_with(image), "{image} is not {}", file.display());
            let r = server.post_file(&path, file);
            assert_eq!(r.status, 200, "{model}, {image}: {}", r.text());
            let ours = api_detections(&r.json());
            let label = format!("{} {model}", backend.name());
            worst = worst.worst(assert_agrees_with_coco_ssd(image, &label, &ours, theirs));
        }
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
