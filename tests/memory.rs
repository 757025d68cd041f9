//! Memory per request is bounded: the component declares a ceiling on its
//! linear memory (`.cargo/config.toml`), and the largest images it accepts
//! are answered within it. `/warm` reports the instance's linear memory,
//! which only grows, so after a request it is that request's peak.

mod common;

use common::{
    component, models_dir, portable_component, python, root, Backend, Request, Server, ServerConfig,
};
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, ImageEncoder};
use std::path::Path;
use wasi_detect::decode::MAX_PIXELS;

const MIB: u64 = 1024 * 1024;

/// The declared maxima of the core memories inside a component, in bytes.
fn memory_ceilings(wasm: &Path) -> Vec<Option<u64>> {
    let bytes = std::fs::read(wasm).unwrap();
    let mut ceilings = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(&bytes) {
        if let wasmparser::Payload::MemorySection(section) = payload.expect("a valid component") {
            for memory in section {
                ceilings.push(memory.unwrap().maximum.map(|pages| pages * 65536));
            }
        }
    }
    ceilings
}

/// The detector's own memory (its largest module's) has the ceiling.
fn detector_ceiling() -> u64 {
    let ceilings = memory_ceilings(&component());
    assert!(!ceilings.is_empty());
    ceilings
        .iter()
        .map(|c| c.expect("every memory declares a maximum"))
        .max()
        .unwrap()
}

#[test]
fn every_memory_of_both_builds_declares_the_ceiling() {
    let ceiling = detector_ceiling();
    assert_eq!(ceiling, 256 * MIB);
    for memory in memory_ceilings(&portable_component()) {
        assert!(memory.is_some_and(|m| m <= ceiling), "{memory:?}");
    }
}

/// The largest accepted picture as a PNG: 16-bit RGBA, the widest pixels a
/// PNG has, at the pixel budget. A repeating pattern keeps the file small.
fn largest_png() -> (Vec<u8>, u32, u32) {
    let (width, height) = (8000u32, (MAX_PIXELS / 8000) as u32);
    let pixels: Vec<u8> = (0..width as usize * height as usize * 8)
        .map(|i| (i % 251) as u8)
        .collect();
    let mut png = Vec::new();
    PngEncoder::new_with_quality(&mut png, CompressionType::Default, FilterType::NoFilter)
        .write_image(&pixels, width, height, ExtendedColorType::Rgba16)
        .unwrap();
    (png, width, height)
}

/// The largest accepted JPEG, stored on its side (EXIF orientation 6), so
/// the decoded pixels are turned once more.
fn largest_rotated_jpeg() -> Vec<u8> {
    let (width, height) = (8000u32, (MAX_PIXELS / 8000) as u32);
    let pixels: Vec<u8> = (0..width as usize * height as usize)
        .flat_map(|i| {
            let v = ((i % width as usize) * 255 / width as usize) as u8;
            [v, v / 2, 255 - v]
        })
        .collect();
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, 70)
        .write_image(&pixels, width, height, ExtendedColorType::Rgb8)
        .unwrap();
    // APP1 "Exif": a little-endian TIFF header and one IFD entry,
    // Orientation (0x0112, SHORT) = 6.
    let mut exif =
        b"Exif\0\0II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0\x06\0\0\0\0\0\0\0".to_vec();
    let mut app1 = vec![0xFF, 0xE1];
    app1.extend_from_slice(&(exif.len() as u16 + 2).to_be_bytes());
    app1.append(&mut exif);
    jpeg.splice(2..2, app1);
    jpeg
}

/// The largest progressive 4:4:4 JPEG accepted, 8000x4000, made by Pillow
/// (the Rust encoders write no progressive JPEGs).
fn largest_progressive_jpeg() -> Vec<u8> {
    let path = root().join("target/memory/progressive-444.jpg");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let script = format!(
        "import numpy as np; from PIL import Image\n\
         w, h = 8000, {}\n\
         x = np.linspace(0, 255, w, dtype=np.float32)[None, :]\n\
         y = np.linspace(0, 255, h, dtype=np.float32)[:, None]\n\
         rgb = np.stack(np.broadcast_arrays(x, y, (x + y) / 2), -1).astype(np.uint8)\n\
         Image.fromarray(rgb).save({:?}, quality=70, progressive=True, subsampling=0)\n",
        MAX_PIXELS / 8000,
        path.to_str().unwrap()
    );
    let status = std::process::Command::new(python())
        .args(["-c", &script])
        .status()
        .unwrap();
    assert!(status.success(), "Pillow could not write {path:?}");
    let jpeg = std::fs::read(&path).unwrap();
    assert!(jpeg.len() < 5 * MIB as usize, "{} bytes", jpeg.len());
    jpeg
}

/// A server that takes one request at a time, so every request runs in the
/// same instance.
fn one_instance_server() -> Server {
    Server::start(ServerConfig {
        args: vec!["--max-in-flight".into(), "1".into()],
        ..ServerConfig::default()
    })
}

/// The instance's linear memory, as `/warm` reports it.
///
/// The host may send an answer's last bytes before its instance is back in
/// the pool; a request that comes in at that moment gets a new instance,
/// whose memory says nothing of the requests before. A pause on each side
/// of `/warm` lets the instance get back first.
fn memory_bytes(server: &Server) -> u64 {
    let settle = || std::thread::sleep(std::time::Duration::from_millis(300));
    settle();
    let warm = server.request(Request::get("/warm")).json();
    settle();
    warm["memory_bytes"].as_u64().expect("memory_bytes")
}

#[test]
fn the_largest_accepted_images_fit_under_the_ceiling() {
    let ceiling = detector_ceiling();
    let server = one_instance_server();
    let memory = || memory_bytes(&server);
    let idle = memory();

    // The JPEG first, so its own peak is measured: it is decoded at 1/8
    // scale (1000x500), so it needs no full-size buffer (96 MB of RGB).
    let jpeg = largest_rotated_jpeg();
    assert!(jpeg.len() < 5 * MIB as usize, "{} bytes", jpeg.len());
    let r = server.post_image("/predict", "image/jpeg", jpeg);
    assert_eq!(r.status, 200, "{}", r.text());
    let after_jpeg = memory();

    // Memory only grows: the PNG's figure is the larger of the two peaks.
    // Its rows are resized as they are decoded, so it needs no full-size
    // buffer either (128 MB as 8-bit RGBA).
    let (png, width, height) = largest_png();
    assert!(png.len() < 5 * MIB as usize, "{} bytes", png.len());
    let r = server.post_image("/predict", "image/png", png);
    assert_eq!(r.status, 200, "{}", r.text());
    let after_png = memory();

    println!(
        "linear memory: idle {} MiB; after a {width}x{height} JPEG on its side {} MiB; \
         then after a 16-bit RGBA PNG of the same size {} MiB; ceiling {} MiB",
        idle / MIB,
        after_jpeg / MIB,
        after_png / MIB,
        ceiling / MIB
    );
    assert!(after_jpeg < 48 * MIB, "{} MiB", after_jpeg / MIB);
    assert!(after_png < 48 * MIB, "{} MiB", after_png / MIB);
    // Growth after the JPEG shows the same instance measured it; memory
    // only grows, so the PNG's figure is of that instance too.
    assert!(idle < after_jpeg && after_jpeg <= after_png && after_png <= ceiling);
}

/// The largest accepted image that still needs a buffer the size of the
/// photo: a progressive JPEG keeps every coefficient until its last scan
/// (2 bytes a sample; 4:4:4, so 3 samples a pixel: 192 MB at 32
/// megapixels), whatever scale it is then decoded at. Made by Pillow, as
/// the Rust encoders write no progressive JPEGs.
#[test]
fn a_progressive_32_megapixel_jpeg_fits_under_the_ceiling() {
    let jpeg = largest_progressive_jpeg();
    let ceiling = detector_ceiling();
    let server = one_instance_server();
    let r = server.post_image("/predict", "image/jpeg", jpeg);
    assert_eq!(r.status, 200, "{}", r.text());
    let memory = memory_bytes(&server);
    println!(
        "linear memory after a 8000x4000 progressive 4:4:4 JPEG: {} MiB; ceiling {} MiB",
        memory / MIB,
        ceiling / MIB
    );
    // Over 96 MiB: the coefficients were held, so this is the worst case.
    assert!(
        memory > 96 * MIB && memory <= ceiling,
        "{} MiB",
        memory / MIB
    );
}

/// A model's weights are streamed to the browser a chunk at a time: serving
/// NanoDet's several MB twice leaves the instance's memory where it was,
/// where reading the file whole would grow it by the file's size.
#[test]
fn serving_a_model_file_keeps_memory_flat() {
    let onnx = std::fs::read(models_dir().join("nanodet/model.onnx")).unwrap();
    let size = onnx.len() as u64;
    assert!(size > 4 * MIB, "{size} bytes");
    let server = one_instance_server();
    let before = memory_bytes(&server);
    for _ in 0..2 {
        let r = server.request(Request::get("/models/nanodet/model.onnx"));
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r.body == onnx, "the body is not the model's bytes");
    }
    let after = memory_bytes(&server);
    println!(
        "linear memory: {} KiB before and {} KiB after serving a {} KiB model.onnx twice",
        before / 1024,
        after / 1024,
        size / 1024
    );
    assert!(after - before < size / 4, "{before} -> {after} bytes");
}

/// The images that take the most memory, with a photo: the largest
/// accepted JPEG of each kind and the largest PNG. Made once for every test
/// that serves them (each a 32-megapixel encode).
fn memory_corpus() -> &'static [CorpusImage] {
    static CORPUS: std::sync::OnceLock<Vec<CorpusImage>> = std::sync::OnceLock::new();
    CORPUS.get_or_init(make_memory_corpus)
}

/// An image of the memory corpus: its name, content type, bytes, pixels.
type CorpusImage = (String, &'static str, Vec<u8>, u64);

fn make_memory_corpus() -> Vec<CorpusImage> {
    let pixels = 8000 * (MAX_PIXELS / 8000);
    let (png, _, _) = largest_png();
    vec![
        (
            "astronaut.jpg".into(),
            "image/jpeg",
            std::fs::read(root().join("tests/fixtures/astronaut.jpg")).unwrap(),
            512 * 512,
        ),
        (
            "8000x4000 JPEG on its side".into(),
            "image/jpeg",
            largest_rotated_jpeg(),
            pixels,
        ),
        ("8000x4000 16-bit RGBA PNG".into(), "image/png", png, pixels),
        (
            "8000x4000 progressive 4:4:4 JPEG".into(),
            "image/jpeg",
            largest_progressive_jpeg(),
            pixels,
        ),
    ]
}

/// Under `server`'s memory cap every image of the memory corpus is
/// answered 200 or refused with a JSON 413 before it is decoded, never
/// aborted, and the instance answers the next photo: one instance serves
/// them all, so each starts where the last left the memory. Returns the
/// refused images' names.
fn every_image_answered(server: &Server, label: &str) -> Vec<String> {
    let photo = std::fs::read(root().join("tests/fixtures/camera.png")).unwrap();
    let mut largest_answered = None;
    let mut refused = Vec::new();
    for (name, content_type, bytes, pixels) in memory_corpus() {
        let (content_type, pixels) = (*content_type, *pixels);
        let r = server.post_image("/predict", content_type, bytes.clone());
        match r.status {
            200 => {
                if largest_answered.as_ref().is_none_or(|(_, p)| *p < pixels) {
                    largest_answered = Some((name.clone(), pixels));
                }
            }
            413 => {
                let message = r.assert_error(413, "image_too_large");
                assert!(message.contains("MiB"), "{label}, {name}: {message}");
                println!("{label}, {name}: 413 {message}");
                refused.push(name.clone());
            }
            other => panic!("{label}, {name}: {other} {}", r.text()),
        }
        let after = server.post_image("/predict", "image/png", photo.clone());
        assert_eq!(after.status, 200, "{label}, after {name}: {}", after.text());
    }
    println!(
        "{label}: the largest image answered 200: {}",
        largest_answered.map_or("none".into(), |(name, _)| name)
    );
    refused
}

/// One request at a time, each with time to spare: the corpus's 32-megapixel
/// images take seconds on a small machine running other tests beside.
fn one_at_a_time() -> Vec<String> {
    ["--max-in-flight", "1", "--request-budget", "60s"]
        .map(String::from)
        .to_vec()
}

/// A server of `backend` that takes one request at a time, with linear
/// memory capped at `mib` MiB as `wasmtime serve -W max-memory-size` (and
/// Spin's `--max-instance-memory`) caps it. The portable build is served as
/// Spin serves it, a fresh instance per request.
fn capped_server(backend: Backend, mib: u64) -> Server {
    let config = match backend {
        Backend::Portable => ServerConfig::spin(),
        _ => ServerConfig::backend(backend),
    };
    let mut args = config.args.clone();
    args.extend(one_at_a_time());
    args.extend(["-W".into(), format!("max-memory-size={}", mib * MIB)]);
    Server::start(ServerConfig { args, ..config })
}

#[test]
fn under_a_host_memory_cap_no_image_aborts_the_native_build() {
    for mib in [64, 128] {
        let refused = every_image_answered(
            &capped_server(Backend::Onnx, mib),
            &format!("native, {mib} MiB"),
        );
        // The progressive JPEG needs more than either cap gives.
        assert!(
            refused.iter().any(|name| name.contains("progressive")),
            "{refused:?}"
        );
    }
}

#[test]
fn under_a_host_memory_cap_no_image_aborts_the_portable_build() {
    for mib in [64, 128] {
        let label = format!("portable, {mib} MiB");
        let server = capped_server(Backend::Portable, mib);
        every_image_answered(&server, &label);
        // The models that are not built in, loaded and run by tract in the
        // provider's own memory: answered, or refused with a 503 saying
        // what they take, before tract allocates; under 128 MiB every one
        // is answered.
        for model in ["nanodet", "centernet"] {
            let r = server.post_fixture(&format!("/predict?model={model}"), "astronaut.jpg");
            match r.status {
                200 => {}
                503 if mib < 128 => {
                    let message = r.assert_error(503, "model_unavailable");
                    assert!(
                        message.contains("MiB of memory"),
                        "{label}, {model}: {message}"
                    );
                    println!("{label}, {model}: 503 {message}");
                }
                other => panic!("{label}, {model}: {other} {}", r.text()),
            }
            let after = server.post_fixture("/predict", "camera.png");
            assert_eq!(
                after.status,
                200,
                "{label}, after {model}: {}",
                after.text()
            );
        }
    }
}

#[test]
fn the_max_memory_setting_refuses_what_would_pass_it() {
    let server = Server::start(ServerConfig {
        env: vec![("WASI_DETECT_MAX_MEMORY".into(), "64MiB".into())],
        args: one_at_a_time(),
        ..ServerConfig::default()
    });
    let refused = every_image_answered(&server, "native, max_memory 64 MiB, no host cap");
    assert_eq!(refused, ["8000x4000 progressive 4:4:4 JPEG"]);
    // Refused before it was decoded: the instance never held it.
    let memory = memory_bytes(&server);
    assert!(memory < 64 * MIB, "{} MiB", memory / MIB);
}
