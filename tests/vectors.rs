//! The pure pipeline against the model's reference vectors
//! (`tests/vectors/`, see its README): the letterboxed tensor of the real
//! photos, and the detections post-processing gives for the reference outputs.

use std::path::PathBuf;
use wasi_detect::decode::{decode, Format};
use wasi_detect::labels::Labels;
use wasi_detect::model::Model;
use wasi_detect::postprocess::{Decoder, Filter};
use wasi_detect::preprocess::{InputTensor, Placement};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn index() -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir().join("index.json")).unwrap()).unwrap()
}

fn floats(file: &str) -> Vec<f32> {
    let bytes = std::fs::read(dir().join(file)).unwrap();
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

const IMAGES: [&str; 2] = ["astronaut", "chelsea"];

/// NanoDet's normalisation, `(pixel - mean) / std` per BGR plane: the
/// reference input's (tests/vectors/README.md).
const MEAN: [f32; 3] = [103.53, 116.28, 123.675];
const STD: [f32; 3] = [57.375, 57.12, 58.395];

/// NanoDet, as its folder describes it (`make model` writes the manifest).
fn nanodet() -> Model {
    let models = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models");
    Model::read(models.to_str().unwrap(), "nanodet").unwrap()
}

#[test]
fn postprocessing_the_reference_outputs_gives_the_reference_detections() {
    let index = index();
    let model = nanodet();
    let Decoder::NanoDet(head) = &model.manifest.decoder else {
        panic!("{:?}", model.manifest.decoder)
    };
    let labels: &Labels = &model.labels;
    for name in IMAGES {
        let v = &index[name];
        let (w, h) = (
            v["width"].as_u64().unwrap() as u32,
            v["height"].as_u64().unwrap() as u32,
        );
        let lb = Placement::letterbox(w, h, model.manifest.preprocess.side);
        assert_eq!(lb.pad_y as u64, v["letterbox"]["pad_y"].as_u64().unwrap());
        let scores = floats(v["scores"]["file"].as_str().unwrap());
        let dist = floats(v["box_dist"]["file"].as_str().unwrap());
        let filter = Filter {
            threshold: 0.3,
            max: 100,
            classes: None,
            iou: None,
        };
        let got = head.detect(&scores, &dist, &lb, &filter).unwrap();
        let want = v["detections_score_thr_0.3_iou_0.6"].as_array().unwrap();
        assert_eq!(got.len(), want.len(), "{name}: {got:?}");
        for (g, w) in got.iter().zip(want) {
            assert_eq!(labels.name(g.class), w["class"].as_str().unwrap(), "{name}");
            assert!(
                (f64::from(g.score) - w["score"].as_f64().unwrap()).abs() < 1e-3,
                "{name}: {g:?}"
            );
            let b: Vec<f64> = w["box_xyxy"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            for (got, want) in [g.x1, g.y1, g.x2, g.y2].iter().zip(&b) {
                assert!(
                    (f64::from(*got) - want).abs() < 0.02,
                    "{name}: {g:?} vs {b:?}"
                );
            }
        }
    }
}

#[test]
fn the_input_tensor_of_the_real_photos_matches_the_reference() {
    let index = index();
    let input = nanodet().manifest.preprocess;
    for name in IMAGES {
        let v = &index[name];
        let png = std::fs::read(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures")
                .join(v["image"].as_str().unwrap()),
        )
        .unwrap();
        let image = decode(&png, Format::Png).unwrap();
        let (tensor, _) = input.to_input_tensor(&image.pixels, image.width, image.height);
        let InputTensor::U8(pixels) = tensor else {
            panic!("NanoDet's input is uint8: its graph normalises");
        };
        let want = floats(v["input"]["file"].as_str().unwrap());
        assert_eq!(pixels.len(), want.len());
        // The resize is Pillow's, fixed point and all: the same 8-bit
        // pixels the reference normalised, every one.
        let plane = pixels.len() / 3;
        let differ = pixels
            .iter()
            .zip(&want)
            .enumerate()
            .filter(|(i, (got, want))| {
                let c = i / plane;
                (*want * STD[c] + MEAN[c]).round() != f32::from(**got)
            })
            .count();
        assert_eq!(differ, 0, "{name}: {differ} pixels differ");
    }
}
