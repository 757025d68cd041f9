//! Phone photos: a JPEG at least twice the model's input on both sides is
//! decoded at 1/2, 1/4 or 1/8 scale (`decode::jpeg_reduction`). Every kind
//! of phone-sized JPEG (`tests/fixtures/make_phone_photos.py`: baseline,
//! progressive, EXIF-turned, restart markers, greyscale, CMYK, at 1/2, 1/4
//! and 1/8, through both `pixels::jpeg_dc` and jpeg-decoder) served by the
//! real host must give
//! - what the reference gives with the same reduced decode (Pillow's
//!   `draft`, libjpeg-turbo's scaled IDCT), within the tolerance every
//!   photo is held to (`VS_NATIVE`: same classes, scores within 0.03, IoU
//!   above 0.9): the two decoders' scaled IDCTs and chroma upsampling differ
//!   by a few 8-bit levels, which the resize to 416 pixels averages further;
//! - what the reference gives decoding every pixel, within the same
//!   tolerance: the reduction costs no accuracy, since the letterbox throws
//!   those pixels away anyway.
//!
//! And none of them may need a full-size pixel buffer.
//!
//! CenterNet, whose input is 512 pixels a side, takes the same decode at the
//! reduction its own side allows, and is held to its reference decoding the
//! same way. Against its reference decoding every pixel it is not held, only
//! compared: on the greyscale motorcycle at 1/8 its box for the motorcycle
//! is another one than with every pixel (IoU 0.70), and its score on the
//! one with restart markers moves by 0.036; the model is that sensitive to
//! those few levels of difference, where NanoDet is not.

mod common;

use common::{
    api_detections, assert_twins, phone_photos, reference_detections_of, Reference, Request,
    Server, ServerConfig, VS_NATIVE,
};

const MIB: u64 = 1024 * 1024;

#[test]
fn phone_photos_match_the_reference_reduced_and_full() {
    let photos = phone_photos();
    assert_eq!(photos.len(), 7, "{photos:?}");
    let reduced = reference_detections_of(&photos, VS_NATIVE.threshold, false);
    let full = reference_detections_of(&photos, VS_NATIVE.threshold, true);
    // One request at a time, so every request runs in the same instance and
    // /warm reports the peak of them all.
    let server = Server::start(ServerConfig {
        args: vec!["--max-in-flight".into(), "1".into()],
        ..ServerConfig::default()
    });
    for (path, ((name, want_reduced), (_, want_full))) in
        photos.iter().zip(reduced.iter().zip(&full))
    {
        assert!(!want_full.is_empty(), "{name}: the reference finds nothing");
        let r = server.post_image("/predict", "image/jpeg", std::fs::read(path).unwrap());
        assert_eq!(r.status, 200, "{name}: {}", r.text());
        let got = api_detections(&r.json());
        assert_twins(
            name,
            VS_NATIVE,
            ("component", &got),
            ("reference, reduced", want_reduced),
        );
        assert_twins(
            name,
            VS_NATIVE,
            ("component", &got),
            ("reference, full decode", want_full),
        );
    }
    // The largest, 4000x4000, is 48 MB of RGB at full size.
    let warm = server.request(Request::get("/warm")).json();
    let memory = warm["memory_bytes"].as_u64().expect("memory_bytes");
    println!(
        "linear memory after every phone photo: {} MiB",
        memory / MIB
    );
    assert!(memory < 32 * MIB, "{} MiB", memory / MIB);
}

#[test]
fn phone_photos_through_centernet_match_its_reference_decoding_them_alike() {
    let photos = phone_photos();
    let model = Reference::CenterNet;
    let tolerance = model.tolerance();
    let reduced = model.detections(&photos, tolerance.threshold, model.max(), false);
    let full = model.detections(&photos, tolerance.threshold, model.max(), true);
    let server = Server::start(ServerConfig::default());
    let mut found = 0;
    for (path, ((name, want_reduced), (_, want_full))) in
        photos.iter().zip(reduced.iter().zip(&full))
    {
        let r = server.post_image(
            "/predict?model=centernet&max=100",
            "image/jpeg",
            std::fs::read(path).unwrap(),
        );
        assert_eq!(r.status, 200, "{name}: {}", r.text());
        let got = api_detections(&r.json());
        assert_twins(
            name,
            tolerance,
            ("component", &got),
            ("reference, reduced", want_reduced),
        );
        for d in &got {
            let twin = want_full
                .iter()
                .filter(|w| w.class == d.class)
                .max_by(|a, b| a.iou(d).total_cmp(&b.iou(d)));
            if let Some(w) = twin {
                let (iou, diff) = (w.iou(d), (w.score - d.score).abs());
                println!(
                    "{name}: {} {}, against the full decode: IoU {iou:.3}, score {diff:.3} apart",
                    d.class, d.score
                );
            }
        }
        found += want_reduced.len();
    }
    assert!(found >= photos.len(), "CenterNet finds {found} objects");
}
