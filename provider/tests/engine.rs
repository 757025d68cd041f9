//! The models run by tract give what ONNX Runtime gives: NanoDet its
//! reference outputs (`tests/vectors/` of the detector), CenterNet what its
//! reference (`tests/reference/centernet.py`) gets from ONNX Runtime on the
//! same input tensors.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use wasi_nn_tract::engine::{F32Tensor, Input, Model};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The little-endian float32 values of a file.
fn floats(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    F32Tensor::from_le_bytes(vec![(bytes.len() / 4) as u32], &bytes)
        .unwrap()
        .values
}

/// NanoDet's uint8 input (its graph normalises): the pixels a reference
/// input tensor was normalised from, `value * std + mean` per BGR plane.
fn nanodet_pixels(normalised: &[f32]) -> Input {
    const MEAN: [f32; 3] = [103.53, 116.28, 123.675];
    const STD: [f32; 3] = [57.375, 57.12, 58.395];
    let plane = normalised.len() / 3;
    let values = normalised
        .iter()
        .enumerate()
        .map(|(i, v)| (v * STD[i / plane] + MEAN[i / plane]).round() as u8)
        .collect();
    Input::U8 {
        dimensions: vec![1, 3, 416, 416],
        values,
    }
}

fn model_path(folder: &str) -> PathBuf {
    root().join("models").join(folder).join("model.onnx")
}

/// A model of `models/`, loaded by tract from its bytes, as wasi-nn's
/// `load` gives them.
fn model(folder: &str) -> Model {
    let path = model_path(folder);
    let bytes = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; `make model` builds it", path.display()));
    Model::from_onnx(&bytes).unwrap()
}

/// A model of `models/`, read from its file as it is decoded, as
/// `load-by-name` reads it.
fn model_read(folder: &str) -> Model {
    let path = model_path(folder);
    let file = std::fs::File::open(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; `make model` builds it", path.display()));
    let len = file.metadata().unwrap().len() as usize;
    Model::from_onnx_reader(file, len).unwrap()
}

#[test]
fn tract_reproduces_the_reference_outputs() {
    let vectors = root().join("tests/vectors");
    let model = model("nanodet");
    assert_eq!(model.inputs, ["input"]);
    assert_eq!(model.outputs, ["scores", "box_dist"]);
    let mut session = model.session().unwrap();
    for image in ["astronaut", "chelsea"] {
        let input = nanodet_pixels(&floats(&vectors.join(format!("{image}.input.f32"))));
        // The same session twice: a reused state gives the same answer.
        for _ in 0..2 {
            let out = session.run(vec![("input".into(), input.clone())]).unwrap();
            assert_eq!(out[0].1.dimensions, [1, 3549, 80]);
            assert_eq!(out[1].1.dimensions, [1, 3549, 44]);
            for ((name, got), file) in out.iter().zip(["scores", "box_dist"]) {
                let want = floats(&vectors.join(format!("{image}.{file}.f32")));
                let worst = got
                    .values
                    .iter()
                    .zip(&want)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0f32, f32::max);
                assert!(worst < 1e-3, "{image} {name}: max abs diff {worst}");
            }
        }
    }
}

/// The path a `scripts/` helper prints.
fn script_output(script: &str) -> PathBuf {
    let out = Command::new("bash")
        .arg(root().join("scripts").join(script))
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(out.status.success(), "scripts/{script} failed");
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

#[test]
fn tract_runs_centernet_as_onnx_runtime_does() {
    // CenterNet's graph ends in its own decoding (MaxPool, Equal, TopK, Mod,
    // Div, Gather, Concat...): every op must be one tract runs, and alike.
    let model = model_read("centernet");
    assert_eq!(model.inputs, ["images"]);
    assert_eq!(model.outputs, ["detections"]);

    let images = [
        "astronaut.png",
        "chelsea.png",
        "coffee.png",
        "motorcycle_left.png",
    ];
    let dump = root().join("target/centernet-vectors");
    let status = Command::new(script_output("python-env.sh"))
        .arg(root().join("tests/reference/centernet.py"))
        .arg("--dump")
        .arg(&dump)
        .args(images.iter().map(|i| root().join("tests/fixtures").join(i)))
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "tests/reference/centernet.py failed");

    let mut session = model.session().unwrap();
    let read = |file: String| floats(&dump.join(file));
    for image in images {
        let stem = image.trim_end_matches(".png");
        // The pixel values, as uint8: the model takes them so.
        let input = Input::U8 {
            dimensions: vec![1, 512, 512, 3],
            values: read(format!("{stem}.input.f32"))
                .iter()
                .map(|&v| v as u8)
                .collect(),
        };
        let out = session.run(vec![("images".into(), input)]).unwrap();
        assert_eq!(out[0].1.dimensions, [1, 100, 6]);
        let got: Vec<&[f32]> = out[0].1.values.chunks_exact(6).collect();
        let want = read(format!("{stem}.detections.f32"));
        // Every row that could be a detection has its twin: the same class
        // and cell, the box within a hundredth of a pixel, the score within
        // 1e-4. (Peaks of nearly equal score may swap places.)
        let mut compared = 0;
        for row in want.chunks_exact(6).filter(|r| r[4] > 0.05) {
            let twin = got.iter().find(|g| {
                g[5] == row[5]
                    && (g[4] - row[4]).abs() < 1e-4
                    && g[..4]
                        .iter()
                        .zip(&row[..4])
                        .all(|(a, b)| (a - b).abs() < 0.01)
            });
            assert!(twin.is_some(), "{image}: no twin for {row:?} in {got:?}");
            compared += 1;
        }
        assert!(compared > 0, "{image}: nothing to compare");
    }
}
