//! The default model run by tract reproduces the reference outputs
//! (`tests/vectors/` of the detector), as ONNX Runtime does.

use std::path::PathBuf;
use wasi_nn_tract::engine::{F32Tensor, Model};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn floats(name: &str) -> Vec<f32> {
    let bytes = std::fs::read(root().join("tests/vectors").join(name)).unwrap();
    F32Tensor::from_le_bytes(vec![(bytes.len() / 4) as u32], &bytes)
        .unwrap()
        .values
}

#[test]
fn tract_reproduces_the_reference_outputs() {
    let path = root().join("models/nanodet/model.onnx");
    let bytes = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; `make model` builds it", path.display()));
    let model = Model::from_onnx(&bytes).unwrap();
    assert_eq!(model.inputs, ["input"]);
    assert_eq!(model.outputs, ["scores", "box_dist"]);
    let mut session = model.session().unwrap();
    for image in ["astronaut", "chelsea"] {
        let input = F32Tensor {
            dimensions: vec![1, 3, 416, 416],
            values: floats(&format!("{image}.input.f32")),
        };
        // The same session twice: a reused state gives the same answer.
        for _ in 0..2 {
            let out = session.run(vec![("input".into(), input.clone())]).unwrap();
            assert_eq!(out[0].1.dimensions, [1, 3549, 80]);
            assert_eq!(out[1].1.dimensions, [1, 3549, 44]);
            for ((name, got), file) in out.iter().zip(["scores", "box_dist"]) {
                let want = floats(&format!("{image}.{file}.f32"));
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
