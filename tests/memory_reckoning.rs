//! The memory a request is reckoned to need before it is decoded
//! (`decode::decode_within`, `Preprocess::memory`) bounds what decoding,
//! turning, resizing and the tensor then really hold at once, measured by
//! counting every allocation: on every image of the corpus and the test
//! photos, and on JPEGs of every layout (progressive, subsampled or not,
//! greyscale, CMYK, turned) decoded at every scale, for each model's input.
//! An estimate below the real peak would let a request past the memory
//! budget, where the host's cap then aborts it; one far above it would
//! refuse images that fit.
//!
//! It is measured as the component runs: compiled to wasm32-wasip1 and run
//! by Node's WASI (`scripts/test-pixels-wasm.sh`), single-threaded. Natively
//! jpeg-decoder hands MCU rows to worker threads through an unbounded queue
//! that the component never has, so there the test only checks PNGs.

use jpeg_encoder::{ColorType, Encoder, SamplingFactor};
use std::alloc::System;
use std::path::{Path, PathBuf};
use wasi_detect::decode::{decode_within, Format};
use wasi_detect::manifest::Manifest;
use wasi_detect::memory::Counting;
use wasi_detect::preprocess::Preprocess;

#[global_allocator]
static ALLOCATOR: Counting<System> = Counting::new(System);

/// Bytes beside the big buffers: the decoders' tables and small vectors.
const SMALL: u64 = 256 * 1024;
const MIB: u64 = 1 << 20;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The preprocessing of each kind of model: NanoDet's letterbox (416,
/// Pillow's bilinear), CenterNet's (512), coco-ssd's whole frame (300,
/// TensorFlow's bilinear), as their manifests say.
fn models() -> Vec<(&'static str, Preprocess)> {
    let manifest = |side: u32, resize: &str, filter: &str| {
        let text = format!(
            r#"{{"input": {{"name": "x", "dtype": "float32", "shape": [1, {side}, {side}, 3],
                          "layout": "NHWC", "channels": "RGB"}},
                "preprocess": {{"resize": "{resize}", "filter": "{filter}", "fill": [0, 0, 0],
                               "mean": [0, 0, 0], "std": [1, 1, 1]}},
                "decoder": {{"family": "yolo", "output": "y", "nms": "per-class"}},
                "nms_iou": 0.5, "threshold": 0.5,
                "labels": {{"file": "labels.txt", "count": 80}}}}"#
        );
        Manifest::parse(&text).unwrap().preprocess
    };
    vec![
        ("nanodet", manifest(416, "letterbox", "bilinear")),
        ("centernet", manifest(512, "letterbox", "bilinear")),
        ("coco-ssd", manifest(300, "stretch", "tf-bilinear")),
    ]
}

/// A smooth test picture, `channels` bytes a pixel.
fn picture(width: u16, height: u16, channels: usize) -> Vec<u8> {
    let (w, h) = (usize::from(width), usize::from(height));
    (0..w * h * channels)
        .map(|i| {
            let (p, c) = (i / channels, i % channels);
            ((p % w) * 255 / w + (p / w) * 128 / h + c * 60) as u8
        })
        .collect()
}

/// A JPEG of the given layout, with an EXIF orientation when not 1.
fn jpeg(
    size: (u16, u16),
    color: ColorType,
    sampling: SamplingFactor,
    progressive: bool,
    orientation: u8,
) -> Vec<u8> {
    let channels = match color {
        ColorType::Luma => 1,
        ColorType::Cmyk => 4,
        _ => 3,
    };
    let mut out = Vec::new();
    let mut encoder = Encoder::new(&mut out, 80);
    encoder.set_sampling_factor(sampling);
    encoder.set_progressive(progressive);
    if orientation != 1 {
        let exif = [
            b"Exif\0\0II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0".as_slice(),
            &[orientation, 0, 0, 0, 0, 0, 0, 0],
        ]
        .concat();
        encoder.add_app_segment(1, exif).unwrap();
    }
    encoder
        .encode(&picture(size.0, size.1, channels), size.0, size.1, color)
        .unwrap();
    out
}

/// What decoding `bytes` for `pre` holds at its most, and what it was
/// reckoned to need, in bytes above what was held before.
fn measure(bytes: &[u8], format: Format, pre: &Preprocess) -> Option<(u64, u64)> {
    let before = ALLOCATOR.live() as u64;
    ALLOCATOR.reset_peak();
    let mut reckoned = 0;
    let stored = decode_within(
        bytes,
        format,
        |w, h| pre.needed_size(w, h),
        pre.filter,
        |decode, _decoded| {
            reckoned = decode;
            Ok(())
        },
    )
    .ok()?;
    let image = stored.upright();
    let decoded = (image.width, image.height);
    let (resized, placement) = pre.fit_image(image);
    let tensor = pre.to_tensor(&resized, &placement);
    let peak = ALLOCATOR.peak() as u64 - before;
    drop((resized, tensor));
    Some((reckoned + pre.memory(decoded), peak))
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>, Format)> {
    let mut found: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let path = e.unwrap().path();
            let format = match path.extension()?.to_str()? {
                "jpg" => Format::Jpeg,
                "png" => Format::Png,
                _ => return None,
            };
            let name = path.file_name()?.to_str()?.to_string();
            Some((name, std::fs::read(&path).unwrap(), format))
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

#[test]
fn the_reckoning_bounds_what_decoding_and_the_tensor_hold() {
    let mut images = files(&root().join("tests/fixtures"));
    images.extend(files(&root().join("tests/corpus")));
    let layouts = [
        ("4:2:0", ColorType::Rgb, SamplingFactor::F_2_2),
        ("4:4:4", ColorType::Rgb, SamplingFactor::F_1_1),
        ("4:2:2", ColorType::Rgb, SamplingFactor::F_2_1),
        ("grey", ColorType::Luma, SamplingFactor::F_1_1),
        ("cmyk", ColorType::Cmyk, SamplingFactor::F_1_1),
    ];
    for size in [(3000u16, 2000u16), (1201, 799), (640, 480)] {
        for (layout, color, sampling) in layouts {
            for progressive in [false, true] {
                for orientation in [1, 6] {
                    let name = format!(
                        "{}x{} {layout}{}{}",
                        size.0,
                        size.1,
                        if progressive { " progressive" } else { "" },
                        if orientation != 1 { " turned" } else { "" }
                    );
                    images.push((
                        name,
                        jpeg(size, color, sampling, progressive, orientation),
                        Format::Jpeg,
                    ));
                }
            }
        }
    }

    let mut worst_over = 1f64;
    let mut measured = 0;
    let mut failures = Vec::new();
    for (model, pre) in models() {
        for (name, bytes, format) in &images {
            if *format == Format::Jpeg && !cfg!(target_arch = "wasm32") {
                continue;
            }
            let Some((reckoned, peak)) = measure(bytes, *format, &pre) else {
                continue; // a corpus file that does not decode
            };
            measured += 1;
            if peak > reckoned + SMALL {
                failures.push(format!(
                    "{model}, {name}: {peak} bytes held, {reckoned} reckoned"
                ));
            }
            // Not so far above as to refuse images that fit: the steps
            // are added up though they hold their buffers one after the
            // other, which counts a few MiB twice at most.
            if reckoned > (peak + peak / 2).max(peak + 8 * MIB) {
                failures.push(format!(
                    "{model}, {name}: {reckoned} bytes reckoned, only {peak} held"
                ));
            }
            if peak > 16 * MIB {
                worst_over = worst_over.max(reckoned as f64 / peak as f64);
            }
        }
    }
    println!("{measured} decodes measured; the reckoning is at most {worst_over:.2}x what was held (above 16 MiB)");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let least = if cfg!(target_arch = "wasm32") {
        250
    } else {
        30
    };
    assert!(measured > least, "{measured}");
}
