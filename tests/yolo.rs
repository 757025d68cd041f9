//! A YOLO model served as docs/models.md ("Your own model") tells a user to serve
//! one: a folder with the ONNX graph Ultralytics exports, a manifest and
//! the labels, and no Rust. No real YOLO weights can be fetched here, so the
//! graph is one with the same interface whose boxes are planted at known
//! places of the letterboxed input (`tests/fixtures/make_planted_yolo.py`,
//! whose numbers give the answers below), served by the real host with
//! ONNX Runtime from a models folder of the test's own. The answers must be
//! exactly those boxes, mapped back through the letterbox to the photo.

mod common;

use common::{python, root, Request, Server, ServerConfig, TempModels};
use serde_json::{json, Value};
use std::process::Command;

/// The manifest a user writes for `yolo export format=onnx` at 640 pixels.
const MANIFEST: &str = r#"{
  "input": {"name": "images", "shape": [1, 3, 640, 640], "layout": "NCHW",
            "channels": "RGB", "dtype": "float32"},
  "preprocess": {"resize": "letterbox", "fill": [114, 114, 114],
                 "mean": [0, 0, 0], "std": [255, 255, 255]},
  "decoder": {"family": "yolo", "output": "output0", "nms": "per-class"},
  "nms_iou": 0.7,
  "threshold": 0.25,
  "labels": {"file": "labels.txt", "count": 3}
}"#;

/// A models folder with the planted graph as `yolo` (NMS per class) and as
/// `yolo-agnostic` (NMS across classes).
fn models() -> TempModels {
    let models = TempModels::new("yolo");
    let dir = models.0.join("yolo");
    let status = Command::new(python())
        .arg(root().join("tests/fixtures/make_planted_yolo.py"))
        .arg(&dir)
        .status()
        .expect("run make_planted_yolo.py");
    assert!(status.success(), "make_planted_yolo.py failed");
    models
        .write("yolo/manifest.json", MANIFEST)
        .write("yolo/labels.txt", "cat\ndog\nbird\n");
    let onnx = std::fs::read(dir.join("model.onnx")).unwrap();
    models
        .write("yolo-agnostic/model.onnx", onnx)
        .write(
            "yolo-agnostic/manifest.json",
            MANIFEST.replace("per-class", "class-agnostic"),
        )
        .write("yolo-agnostic/labels.txt", "cat\ndog\nbird\n");
    models
}

/// A uniform `width` x `height` photo of one grey level, as PNG or JPEG.
fn photo(width: u32, height: u32, level: u8, format: image::ImageFormat) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(width, height, image::Rgb([level; 3]));
    let mut bytes = std::io::Cursor::new(Vec::new());
    img.write_to(&mut bytes, format).unwrap();
    bytes.into_inner()
}

/// (class, score, [x1, y1, x2, y2]) of each detection.
fn boxes(answer: &Value) -> Vec<(String, f64, [f64; 4])> {
    let list = answer.as_array().unwrap_or_else(|| panic!("{answer}"));
    list.iter()
        .map(|d| {
            let p = |i: usize, k: &str| d["bbox"][i][k].as_f64().unwrap();
            (
                d["class"].as_str().unwrap().to_string(),
                d["score"].as_f64().unwrap(),
                [p(0, "x"), p(0, "y"), p(1, "x"), p(1, "y")],
            )
        })
        .collect()
}

/// The mean of the input tensor of a white 1280x640 photo: half the square
/// is the photo (1.0), half the grey padding (114 / 255).
const WHITE_MEAN: f64 = (1.0 + 114.0 / 255.0) / 2.0;

/// The planted anchors that are detections in a white 1280x640 photo, best
/// first: letterboxed at scale 0.5 below 160 pixels of padding, so an input
/// point (x, y) is the photo's (2x, 2(y - 160)), clamped to 1280x640.
fn white_photo_answer() -> Vec<(&'static str, f64, [f64; 4])> {
    vec![
        // Anchor 0: (320, 320) 200x100 in the input.
        ("cat", 1.0 * WHITE_MEAN, [440.0, 220.0, 840.0, 420.0]),
        // Anchor 1, the same box again as a cat, is suppressed; anchor 2,
        // the same box as a dog, is another class.
        ("dog", 0.8 * WHITE_MEAN, [440.0, 220.0, 840.0, 420.0]),
        // Anchor 4: (600, 460) 100x100, into the padding: clamped.
        ("dog", 0.6 * WHITE_MEAN, [1100.0, 500.0, 1280.0, 640.0]),
        // Anchor 3: (100, 200) 40x80, its top edge on the padding's.
        ("bird", 0.5 * WHITE_MEAN, [160.0, 0.0, 240.0, 160.0]),
    ]
}

fn assert_answer(what: &str, got: &Value, want: &[(&str, f64, [f64; 4])]) {
    let got = boxes(got);
    assert_eq!(got.len(), want.len(), "{what}: {got:?}");
    for (g, w) in got.iter().zip(want) {
        assert_eq!((g.0.as_str(), g.2), (w.0, w.2), "{what}: {got:?}");
        assert!((g.1 - w.1).abs() < 0.0015, "{what}: {got:?}");
    }
}

#[test]
fn a_yolo_folder_is_served_with_its_planted_boxes() {
    let models = models();
    let server = Server::start(ServerConfig {
        models: Some(models.0.clone()),
        env: vec![("WASI_DETECT_MODEL".into(), "yolo".into())],
        ..ServerConfig::default()
    });
    let warm = server.request(Request::get("/warm")).json();
    assert_eq!(
        (warm["model"].as_str(), warm["source"].as_str()),
        (Some("yolo"), Some("load-by-name")),
        "{warm}"
    );
    let list = server.request(Request::get("/models")).json();
    assert_eq!(
        list["models"][0],
        json!({"name": "yolo", "family": "yolo", "input_size": 640, "classes": 3, "threshold": 0.25})
    );

    let post = |query: &str, body: Vec<u8>, content_type: &str| {
        let r = server.post_image(&format!("/predict{query}"), content_type, body);
        assert_eq!(r.status, 200, "{query}: {}", r.text());
        r.json()
    };
    let png = photo(1280, 640, 255, image::ImageFormat::Png);
    let want = white_photo_answer();
    assert_answer("white PNG", &post("", png.clone(), "image/png"), &want);
    // A JPEG twice the input's size is decoded at 1/2: the same boxes, in
    // the full photo's pixels.
    let jpeg = photo(1280, 640, 255, image::ImageFormat::Jpeg);
    assert_answer("white JPEG", &post("", jpeg, "image/jpeg"), &want);

    // The scores are the graph's, from the tensor: a black photo's mean
    // puts every score under the threshold.
    let black = photo(1280, 640, 0, image::ImageFormat::Png);
    assert_eq!(post("", black, "image/png"), json!([]));

    // Class filtering, the threshold and the cap.
    let only = |classes: &[&str]| -> Vec<(&'static str, f64, [f64; 4])> {
        want.iter()
            .filter(|d| classes.contains(&d.0))
            .cloned()
            .collect()
    };
    assert_answer(
        "classes=dog",
        &post("?classes=dog", png.clone(), "image/png"),
        &only(&["dog"]),
    );
    assert_answer(
        "classes=cat,bird",
        &post("?classes=cat,bird", png.clone(), "image/png"),
        &only(&["cat", "bird"]),
    );
    assert_answer(
        "threshold=0.5",
        &post("?threshold=0.5", png.clone(), "image/png"),
        &want[..2],
    );
    assert_answer(
        "max=1",
        &post("?max=1", png.clone(), "image/png"),
        &want[..1],
    );
    let r = server.post_image("/predict?classes=person", "image/png", png.clone());
    let m = r.assert_error(400, "invalid_parameter");
    assert!(m.contains("(e.g. cat, dog, bird)"), "{m}");

    // Across classes, the dog on the cat's box goes, unless cats are not
    // asked for: classes are filtered before the NMS.
    assert_answer(
        "class-agnostic",
        &post("?model=yolo-agnostic", png.clone(), "image/png"),
        &[want[0], want[2], want[3]],
    );
    assert_answer(
        "class-agnostic, classes=dog",
        &post("?model=yolo-agnostic&classes=dog", png, "image/png"),
        &only(&["dog"]),
    );
}
