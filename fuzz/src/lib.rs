//! What each fuzz target does with one input, and the properties it checks.
//!
//! The targets in `fuzz_targets/` only call these functions, and
//! `tests/fuzz_regressions.rs` includes this file, so every input saved under
//! `fuzz/regressions/<target>/` replays under a plain `cargo test` through
//! exactly the same calls. A broken property is a panic, which libFuzzer
//! reports as a crash and saves the input of.

use wasi_detect::api::{self, AnswerFormat, ApiError, Route, MAX_BODY_BYTES};
use wasi_detect::decode::{self, Format, RgbImage, MAX_PIXELS};
use wasi_detect::labels::Labels;
use wasi_detect::postprocess::centernet::CenterNet;
use wasi_detect::postprocess::nanodet::NanoDet;
use wasi_detect::postprocess::nms::{iou, Nms};
use wasi_detect::postprocess::yolo::Yolo;
use wasi_detect::postprocess::{Detection, Filter};
use wasi_detect::preprocess::{self, ChannelOrder, Fit, Layout, Placement, Preprocess};
use wasi_detect::settings::MAX_DETECTIONS_LIMIT;

/// NanoDet-g 416's input and head, as its manifest describes them.
fn nanodet_input() -> Preprocess {
    Preprocess {
        side: 416,
        fit: Fit::Letterbox,
        filter: preprocess::Filter::Pillow,
        layout: Layout::Nchw,
        order: ChannelOrder::Bgr,
        fill: [0, 0, 0],
        dtype: preprocess::Dtype::Float32,
        mean: [103.53, 116.28, 123.675],
        std: [57.375, 57.12, 58.395],
    }
}

const CLASSES: usize = 80;

fn nanodet_head() -> NanoDet {
    NanoDet {
        side: 416,
        strides: vec![8, 16, 32],
        bins: 11,
        classes: CLASSES,
        scores: "scores".into(),
        boxes: "box_dist".into(),
        nms: Nms {
            iou: 0.6,
            per_class: true,
        },
    }
}

/// The COCO class names both models have.
fn coco() -> Labels {
    Labels::parse(include_str!("../../models/nanodet/labels.txt"))
}

/// `decode_letterbox`: the bytes as an upload declared as each format in turn.
/// A decoded image must make a well-formed input tensor and a letterbox that
/// maps back into the image; a refused one must be a client error.
pub fn decode_letterbox(data: &[u8]) {
    for format in [Format::Png, Format::Jpeg] {
        match decode::decode(data, format) {
            Ok(image) => {
                assert_eq!(Format::sniff(data), Some(format), "decoded as {format:?}");
                check_tensor(&image);
            }
            Err(e) => {
                let e = ApiError::from(e);
                assert!(matches!(e.status, 413 | 422), "{e:?}");
                assert!(!e.message.is_empty());
            }
        }
        // As the component decodes it: a large JPEG at a reduced scale
        // (jpeg-decoder's scaled IDCT, or `pixels::jpeg_dc` at 1/8).
        let input = nanodet_input();
        match decode::decode_stored(data, format, |w, h| input.needed_size(w, h), input.filter) {
            Ok(stored) => check_reduced(stored.upright()),
            Err(e) => assert!(matches!(ApiError::from(e).status, 413 | 422)),
        }
    }
}

fn check_tensor(image: &RgbImage) {
    let (width, height) = (image.width, image.height);
    assert!(width >= 1 && height >= 1, "{width}x{height}");
    let pixels = u64::from(width) * u64::from(height);
    assert!(pixels <= MAX_PIXELS, "{width}x{height}");
    assert_eq!(image.pixels.len() as u64, pixels * 3);

    let input = nanodet_input();
    let (tensor, lb) = input.to_input_tensor(&image.pixels, width, height);
    let preprocess::InputTensor::F32(tensor) = tensor else {
        panic!("NanoDet's input is float32");
    };
    assert_eq!(lb, Placement::letterbox(width, height, input.side));
    check_letterbox(&lb);
    let side = input.side as usize;
    let plane = side * side;
    assert_eq!(
        tensor.len(),
        input.shape().iter().product::<u32>() as usize,
        "{width}x{height}"
    );
    let inside_x = lb.pad_x as usize..(lb.pad_x + lb.inner_width) as usize;
    let inside_y = lb.pad_y as usize..(lb.pad_y + lb.inner_height) as usize;
    for (c, channel) in tensor.chunks_exact(plane).enumerate() {
        let normalised = |v: f32| (v - input.mean[c]) / input.std[c];
        let (black, white) = (normalised(0.0), normalised(255.0));
        for (i, &v) in channel.iter().enumerate() {
            let (x, y) = (i % side, i / side);
            assert!(
                v.is_finite() && v >= black - 1e-4 && v <= white + 1e-4,
                "plane {c} ({x}, {y}) = {v}"
            );
            // Outside the resized image is padding, which is black.
            if !inside_x.contains(&x) || !inside_y.contains(&y) {
                assert!((v - black).abs() < 1e-5, "padding ({x}, {y}) = {v}");
            }
        }
    }
}

/// The placement fits in the square, touches two opposite sides of it, is
/// centred, and its corners map back to the image's corners.
fn check_letterbox(lb: &Placement) {
    let side = lb.side;
    assert!(
        lb.scale_x.is_finite() && lb.scale_x > 0.0 && lb.scale_x == lb.scale_y,
        "{lb:?}"
    );
    assert!((1..=side).contains(&lb.inner_width), "{lb:?}");
    assert!((1..=side).contains(&lb.inner_height), "{lb:?}");
    assert!(lb.inner_width == side || lb.inner_height == side, "{lb:?}");
    assert_eq!(lb.pad_x, (side - lb.inner_width) / 2, "{lb:?}");
    assert_eq!(lb.pad_y, (side - lb.inner_height) / 2, "{lb:?}");

    let (w, h) = (lb.width as f32, lb.height as f32);
    assert_eq!(lb.to_image(lb.pad_x as f32, lb.pad_y as f32), (0.0, 0.0));
    let (x, y) = lb.to_image(
        (lb.pad_x + lb.inner_width) as f32,
        (lb.pad_y + lb.inner_height) as f32,
    );
    // The resized sides are whole pixels: up to half an input pixel off,
    // plus float rounding at very large sides.
    let slack = |len: f32| 0.5 / lb.scale_x + 1.0 + len * 1e-6;
    assert!(x <= w && x >= w - slack(w), "{lb:?}: right edge at {x}");
    assert!(y <= h && y >= h - slack(h), "{lb:?}: bottom edge at {y}");

    // Any point of (or beyond) the square lands in the image, in order.
    let mut last = (f32::NEG_INFINITY, f32::NEG_INFINITY);
    let s = side as f32;
    for t in [
        -1e9,
        -1.0,
        0.0,
        0.5,
        1.0,
        s / 2.0 - 0.5,
        s - 1.0,
        s,
        s + 1.0,
        1e9,
    ] {
        let p = lb.to_image(t, t);
        assert!(
            (0.0..=w).contains(&p.0) && (0.0..=h).contains(&p.1),
            "{lb:?}: {t} -> {p:?}"
        );
        assert!(p.0 >= last.0 && p.1 >= last.1, "{lb:?}: {t} -> {p:?}");
        last = p;
    }
}

/// A reduced image is the photo's size divided by its reduction (rounded
/// up), or the size the letterbox needs when the decoder resized it, and
/// its letterbox maps back into the photo.
fn check_reduced(image: RgbImage) {
    assert!(
        matches!(image.reduction, 1 | 2 | 4 | 8),
        "{}",
        image.reduction
    );
    let (photo_width, photo_height) = (image.photo_width, image.photo_height);
    let input = nanodet_input();
    let size = if image.is_resized() {
        input.needed_size(photo_width, photo_height)
    } else {
        (
            photo_width.div_ceil(image.reduction),
            photo_height.div_ceil(image.reduction),
        )
    };
    assert_eq!((image.width, image.height), size);
    assert_eq!(
        image.pixels.len() as u64,
        u64::from(image.width) * u64::from(image.height) * 3
    );
    let (resized, lb) = input.fit_image(image);
    assert_eq!(resized.len() as u32, lb.inner_width * lb.inner_height * 3);
    for t in [-1.0, 0.0, 208.0, 416.0, 1e9] {
        let (x, y) = lb.to_image(t, t);
        assert!(x >= 0.0 && x <= photo_width as f32, "{lb:?}: {t} -> {x}");
        assert!(y >= 0.0 && y <= photo_height as f32, "{lb:?}: {t} -> {y}");
    }
}

/// `postprocess`: model outputs of the right shapes built from the bytes
/// (repeating patterns, so thousands of rows can pass the threshold at once,
/// then single values written anywhere), with any threshold, cap, class list
/// and image size, through NanoDet's decoder, and the same values as
/// CenterNet's and YOLO's outputs. The detections must be what the filter
/// asks for, best first, inside the image and not overlapping a better box
/// their NMS would have dropped.
pub fn postprocess(data: &[u8]) {
    let mut r = Bytes(data);
    let threshold = r.f32();
    let max = usize::from(r.u8());
    let classes = match r.u8() {
        n if n < 128 => None,
        n => Some((0..n % 8).map(|_| usize::from(r.u8())).collect::<Vec<_>>()),
    };
    let filter = Filter {
        threshold,
        max,
        classes,
        iou: None,
    };
    let lb = Placement::letterbox(r.side(), r.side(), 416);
    let head = nanodet_head();
    let rows = head.rows();
    let mut scores = r.pattern(rows * CLASSES);
    let mut dist = r.pattern(rows * 4 * head.bins);
    while !r.0.is_empty() {
        let (which, at, value) = (r.u8(), r.u32() as usize, r.f32());
        let tensor = if which % 2 == 0 {
            &mut scores
        } else {
            &mut dist
        };
        let len = tensor.len();
        tensor[at % len] = value;
    }

    let short = head.detect(&scores[1..], &dist, &lb, &filter);
    assert!(short.is_err(), "a short scores output was taken");
    let short = head.detect(&scores, &dist[1..], &lb, &filter);
    assert!(short.is_err(), "a short box_dist output was taken");

    let found = head
        .detect(&scores, &dist, &lb, &filter)
        .expect("the shapes are right");
    check_detections(&found, &filter, &lb, head.nms, |better, d| {
        iou(better, d) <= head.nms.iou
    });
    for d in &found {
        assert!(is_best_of_a_row(&scores, d.class, d.score), "{d:?}");
    }

    // CenterNet's 100 rows of (x1, y1, x2, y2, score, class), in the
    // 512-pixel input: mostly not whole class ids, but any that are.
    let centernet = CenterNet {
        detections: "detections".into(),
        rows: 100,
        columns: [0, 1, 2, 3, 4, 5],
        classes: CLASSES,
        nms: Nms {
            iou: 0.4,
            per_class: false,
        },
    };
    let mut rows = scores[..600].to_vec();
    for (i, row) in rows.chunks_exact_mut(6).enumerate() {
        // Every other row gets a class id from its own value.
        if i % 2 == 0 && row[5].is_finite() {
            row[5] = (row[5].abs() * 10.0).floor() % 100.0;
        }
    }
    let lb512 = Placement::letterbox(lb.width.max(1), lb.height.max(1), 512);
    assert!(centernet.detect(&rows[1..], &lb512, &filter).is_err());
    let found = centernet.detect(&rows, &lb512, &filter).expect("100 rows");
    // Suppressed in input pixels: mapped to the photo, an overlap may
    // change, so only order and bounds are checked.
    check_detections(&found, &filter, &lb512, centernet.nms, |_, _| true);

    // YOLO's [1, 4 + 80, N] with N from the pattern's length.
    let yolo = Yolo {
        output: "output0".into(),
        classes: CLASSES,
        nms: Nms {
            iou: 0.7,
            per_class: true,
        },
    };
    let anchors = dist.len() / 84;
    let found = yolo
        .detect(&dist[..anchors * 84], &lb, &filter)
        .expect("whole anchors");
    check_detections(&found, &filter, &lb, yolo.nms, |_, _| true);
    let json = api::detections_json(&found, &coco(), AnswerFormat::HuggingFace);
    assert!(json.starts_with(b"[") && json.ends_with(b"]"));
}

/// Detections as the filter asks, best first, inside the photo, and apart
/// where `apart(better, d)` says the NMS left them (for boxes of one class
/// when it is per class).
fn check_detections(
    found: &[Detection],
    filter: &Filter,
    lb: &Placement,
    nms: Nms,
    apart: impl Fn(&Detection, &Detection) -> bool,
) {
    assert!(
        found.len() <= filter.max,
        "{} > max {}",
        found.len(),
        filter.max
    );
    let (w, h) = (lb.width as f32, lb.height as f32);
    for (i, d) in found.iter().enumerate() {
        // `>` also rules out NaN scores and a NaN threshold keeping anything.
        assert!(
            d.score > filter.threshold,
            "{d:?} under {}",
            filter.threshold
        );
        // A probability: anything else (an infinity would be JSON `null`) is refused.
        assert!(d.score <= 1.0, "{d:?} is not a probability");
        assert!(d.class < CLASSES, "{d:?}");
        let allowed = filter.classes.as_ref().is_none_or(|c| c.contains(&d.class));
        assert!(allowed, "{d:?} not in {:?}", filter.classes);
        for v in [d.x1, d.y1, d.x2, d.y2] {
            assert!(v.is_finite(), "{d:?}");
        }
        assert!(0.0 <= d.x1 && d.x1 <= d.x2 && d.x2 <= w, "{d:?} in {w}x{h}");
        assert!(0.0 <= d.y1 && d.y1 <= d.y2 && d.y2 <= h, "{d:?} in {w}x{h}");
        for better in &found[..i] {
            assert!(better.score >= d.score, "not best first: {better:?} {d:?}");
            let overlap = iou(better, d);
            // Up to float rounding of the union of boxes thousands of
            // pixels wide.
            assert!(
                (0.0..=1.0 + 1e-5).contains(&overlap),
                "iou {overlap}: {better:?} {d:?}"
            );
            assert!(
                (nms.per_class && better.class != d.class) || apart(better, d),
                "{better:?} {d:?}"
            );
        }
    }
    let json = api::detections_json(found, &coco(), AnswerFormat::Detect);
    assert!(json.starts_with(b"[") && json.ends_with(b"]"));
}

/// Whether some row has `score` for `class`, and nothing higher.
fn is_best_of_a_row(scores: &[f32], class: usize, score: f32) -> bool {
    scores.chunks_exact(CLASSES).any(|row| {
        row[class].to_bits() == score.to_bits() && row.iter().all(|v| v.total_cmp(&score).is_le())
    })
}

/// `query`: the text as a `/predict` query string, and, since it is there, as
/// a request path, a content-type and a content-length. Whatever it is, the
/// answer is a filter within the settings' bounds or a client error.
pub fn query(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match api::predict_query(text).and_then(|q| q.filter(&coco(), 0.35, 20)) {
        Ok(f) => {
            assert!(escapes_are_well_formed(text), "{text:?} taken: {f:?}");
            assert!((0.0..=1.0).contains(&f.threshold), "{text:?}: {f:?}");
            assert!(
                (1..=MAX_DETECTIONS_LIMIT).contains(&f.max),
                "{text:?}: {f:?}"
            );
            if let Some(classes) = &f.classes {
                assert!(!classes.is_empty(), "{text:?}: {f:?}");
                assert!(classes.iter().all(|&c| c < CLASSES), "{text:?}: {f:?}");
            }
        }
        Err(e) => {
            assert_eq!((e.status, e.code), (400, "invalid_parameter"), "{text:?}");
            assert!(!e.to_json().is_empty());
        }
    }

    for method in ["GET", "POST", "OPTIONS"] {
        match api::route(method, text) {
            Ok(Route::Example(name)) => {
                assert!(api::example_type(&name).is_some(), "{text:?}");
                assert!(!name.contains('/') && !name.starts_with('.'), "{text:?}");
            }
            Ok(_) => {}
            Err(e) => assert!(matches!(e.status, 404 | 405), "{text:?}: {e:?}"),
        }
    }
    if let Err(e) = api::image_format(Some(text)) {
        assert_eq!(e.status, 415, "{text:?}");
    }
    match api::content_length(Some(text)) {
        Ok(n) => assert!(n.is_some_and(|n| n <= MAX_BODY_BYTES), "{text:?}"),
        Err(e) => assert!(matches!(e.status, 400 | 413), "{text:?}"),
    }
}

/// Whether every `%` of a query starts an escape of two hex digits, as
/// RFC 3986 writes them.
fn escapes_are_well_formed(query: &str) -> bool {
    let bytes = query.as_bytes();
    bytes.iter().enumerate().all(|(i, &b)| {
        b != b'%'
            || bytes
                .get(i + 1..i + 3)
                .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    })
}

/// Reads values off the fuzz input; past its end everything reads as zero, so
/// every input, even an empty one, is a case.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    /// A float: often one of the values that break arithmetic (a tag byte
    /// picks it), else any bit pattern.
    fn f32(&mut self) -> f32 {
        const SPECIAL: [f32; 16] = [
            0.0,
            -0.0,
            1.0,
            0.5,
            0.35,
            -1.0,
            50.0,
            -50.0,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MAX,
            f32::MIN,
            f32::MIN_POSITIVE,
            1e-45,
            1e30,
        ];
        let tag = self.u8();
        match SPECIAL.get(usize::from(tag)) {
            Some(&v) => v,
            None => f32::from_bits(self.u32()),
        }
    }

    /// An image side: mostly 0, 1 or 2 pixels or small, sometimes any size.
    fn side(&mut self) -> u32 {
        match self.u8() % 4 {
            0 => u32::from(self.u8() % 3),
            1 => u32::from(self.u8()),
            2 => u32::from(self.u16()),
            _ => self.u32(),
        }
    }

    /// `len` values repeating a pattern of 1 to 16 floats.
    fn pattern(&mut self, len: usize) -> Vec<f32> {
        let n = usize::from(self.u8() % 16) + 1;
        let mut values: Vec<f32> = (0..n).map(|_| self.f32()).collect();
        // Doubling copies rather than a value at a time: the fuzzer's
        // instrumentation of a per-value loop costs more than `detect` does.
        values.reserve(len);
        while values.len() < len {
            values.extend_from_within(..values.len().min(len - values.len()));
        }
        values
    }
}
