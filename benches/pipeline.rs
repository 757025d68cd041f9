//! The component's own steps, natively, under criterion: decode, the EXIF
//! turn, the resize, the tensor, post-processing and JSON. The
//! figures inside the component (wasm) are in its `Server-Timing` header and
//! in BENCHMARKS.md; these show the code's own cost without the wasm
//! runtime. `cargo bench --bench pipeline`.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::path::PathBuf;
use wasi_detect::api::{detections_json, AnswerFormat};
use wasi_detect::decode::{decode_stored, Format};
use wasi_detect::labels::Labels;
use wasi_detect::manifest::Manifest;
use wasi_detect::postprocess::{Decoder, Filter};
use wasi_detect::preprocess::Placement;

fn read(path: &str) -> Vec<u8> {
    std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

fn floats(path: &str) -> Vec<f32> {
    read(path)
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// NanoDet's manifest (`make model` writes it).
fn nanodet() -> Manifest {
    let text = String::from_utf8(read("models/nanodet/manifest.json")).unwrap();
    Manifest::parse(&text).unwrap()
}

fn steps(c: &mut Criterion) {
    let manifest = nanodet();
    let input = &manifest.preprocess;
    let needed_size = |w, h| input.needed_size(w, h);
    for (name, path, format) in [
        (
            "astronaut.jpg",
            "tests/fixtures/astronaut.jpg",
            Format::Jpeg,
        ),
        (
            "coffee-rotated.jpg",
            "tests/fixtures/coffee-rotated.jpg",
            Format::Jpeg,
        ),
        (
            "motorcycle_left.png",
            "tests/fixtures/motorcycle_left.png",
            Format::Png,
        ),
    ] {
        let bytes = read(path);
        c.bench_function(&format!("decode {name}"), |b| {
            b.iter(|| decode_stored(black_box(&bytes), format, needed_size, input.filter).unwrap())
        });
        c.bench_function(&format!("orient {name}"), |b| {
            b.iter_batched(
                || decode_stored(&bytes, format, needed_size, input.filter).unwrap(),
                |stored| stored.upright(),
                criterion::BatchSize::LargeInput,
            )
        });
        let image = decode_stored(&bytes, format, needed_size, input.filter)
            .unwrap()
            .upright();
        c.bench_function(&format!("resize {name}"), |b| {
            b.iter(|| input.fit_image(black_box(image.clone())))
        });
        let (resized, lb) = input.fit_image(image);
        c.bench_function(&format!("tensor {name}"), |b| {
            b.iter(|| input.to_tensor(black_box(&resized), &lb))
        });
    }

    // A 12-megapixel phone photo (`make bench` makes it): decoded at 1/8
    // from its DC coefficients.
    let phone = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench/large.jpg");
    if let Ok(bytes) = std::fs::read(phone) {
        c.bench_function("decode phone 4000x3000 JPEG", |b| {
            b.iter(|| {
                decode_stored(black_box(&bytes), Format::Jpeg, needed_size, input.filter).unwrap()
            })
        });
    }

    // The model's reference outputs for the astronaut photo.
    let scores = floats("tests/vectors/astronaut.scores.f32");
    let box_dist = floats("tests/vectors/astronaut.box_dist.f32");
    let lb = Placement::letterbox(512, 512, input.side);
    let filter = Filter {
        threshold: manifest.threshold,
        max: 20,
        classes: None,
        iou: None,
    };
    let Decoder::NanoDet(head) = &manifest.decoder else {
        panic!("not NanoDet's manifest")
    };
    c.bench_function("postprocess astronaut", |b| {
        b.iter(|| {
            head.detect(black_box(&scores), &box_dist, &lb, &filter)
                .unwrap()
        })
    });
    let found = head.detect(&scores, &box_dist, &lb, &filter).unwrap();
    let labels = Labels::parse(&String::from_utf8(read("models/nanodet/labels.txt")).unwrap());
    c.bench_function("json astronaut", |b| {
        b.iter(|| detections_json(black_box(&found), &labels, AnswerFormat::Detect))
    });
}

criterion_group!(benches, steps);
criterion_main!(benches);
