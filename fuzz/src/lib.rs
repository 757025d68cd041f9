//! What each fuzz target does with one input, and the properties it checks.
//!
//! The targets in `fuzz_targets/` only call these functions, and
//! `tests/fuzz_regressions.rs` includes this file, so every input saved under
//! `fuzz/regressions/<target>/` replays under a plain `cargo test` through
//! exactly the same calls. A broken property is a panic, which libFuzzer
//! reports as a crash and saves the input of.

use wasi_detect::api::{self, ApiError, Route, MAX_BODY_BYTES};
use wasi_detect::decode::{self, Format, RgbImage, MAX_PIXELS};
use wasi_detect::model::{
    BOX_DIST_WIDTH, INPUT_SHAPE, INPUT_SIZE, MEAN_BGR, NMS_IOU, NUM_CLASSES, NUM_ROWS, STD_BGR,
};
use wasi_detect::postprocess::{self, Filter};
use wasi_detect::preprocess::{self, Letterbox};
use wasi_detect::settings::{Settings, MAX_DETECTIONS_LIMIT};

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
        match decode::decode_stored(data, format, preprocess::needed_size) {
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

    let (tensor, lb) = preprocess::to_input_tensor(&image.pixels, width, height);
    assert_eq!(lb, Letterbox::fit(width, height));
    check_letterbox(&lb);
    let plane = INPUT_SIZE * INPUT_SIZE;
    assert_eq!(
        tensor.len(),
        INPUT_SHAPE.iter().product::<u32>() as usize,
        "{width}x{height}"
    );
    let inside_x = lb.pad_x as usize..(lb.pad_x + lb.inner_width) as usize;
    let inside_y = lb.pad_y as usize..(lb.pad_y + lb.inner_height) as usize;
    for (c, channel) in tensor.chunks_exact(plane).enumerate() {
        let normalised = |v: f32| (v - MEAN_BGR[c]) / STD_BGR[c];
        let (black, white) = (normalised(0.0), normalised(255.0));
        for (i, &v) in channel.iter().enumerate() {
            let (x, y) = (i % INPUT_SIZE, i / INPUT_SIZE);
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
fn check_letterbox(lb: &Letterbox) {
    let side = INPUT_SIZE as u32;
    assert!(lb.scale.is_finite() && lb.scale > 0.0, "{lb:?}");
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
    let slack = |len: f32| 0.5 / lb.scale + 1.0 + len * 1e-6;
    assert!(x <= w && x >= w - slack(w), "{lb:?}: right edge at {x}");
    assert!(y <= h && y >= h - slack(h), "{lb:?}: bottom edge at {y}");

    // Any point of (or beyond) the square lands in the image, in order.
    let mut last = (f32::NEG_INFINITY, f32::NEG_INFINITY);
    for t in [-1e9, -1.0, 0.0, 0.5, 1.0, 207.5, 415.0, 416.0, 417.0, 1e9] {
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
    let size = if image.is_resized() {
        preprocess::needed_size(photo_width, photo_height)
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
    let (resized, lb) = preprocess::letterbox_image(image);
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
/// and image size. The detections must be what the filter asks for, best
/// first, inside the image and not overlapping a better box of their class.
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
    };
    let lb = Letterbox::fit(r.side(), r.side());
    let mut scores = r.pattern(NUM_ROWS * NUM_CLASSES);
    let mut dist = r.pattern(NUM_ROWS * BOX_DIST_WIDTH);
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

    let short = postprocess::detect(&scores[1..], &dist, &lb, &filter);
    assert!(short.is_err(), "a short scores output was taken");
    let short = postprocess::detect(&scores, &dist[1..], &lb, &filter);
    assert!(short.is_err(), "a short box_dist output was taken");

    let found = postprocess::detect(&scores, &dist, &lb, &filter).expect("the shapes are right");
    assert!(found.len() <= filter.max, "{} > max {}", found.len(), max);
    let (w, h) = (lb.width as f32, lb.height as f32);
    for (i, d) in found.iter().enumerate() {
        // `>` also rules out NaN scores and a NaN threshold keeping anything.
        assert!(d.score > filter.threshold, "{d:?} under {threshold}");
        // A probability: anything else (an infinity would be JSON `null`) is refused.
        assert!(d.score <= 1.0, "{d:?} is not a probability");
        assert!(d.class < NUM_CLASSES, "{d:?}");
        let allowed = filter.classes.as_ref().is_none_or(|c| c.contains(&d.class));
        assert!(allowed, "{d:?} not in {:?}", filter.classes);
        assert!(is_best_of_a_row(&scores, d.class, d.score), "{d:?}");
        for v in [d.x1, d.y1, d.x2, d.y2] {
            assert!(v.is_finite(), "{d:?}");
        }
        assert!(0.0 <= d.x1 && d.x1 <= d.x2 && d.x2 <= w, "{d:?} in {w}x{h}");
        assert!(0.0 <= d.y1 && d.y1 <= d.y2 && d.y2 <= h, "{d:?} in {w}x{h}");
        for better in &found[..i] {
            assert!(better.score >= d.score, "not best first: {better:?} {d:?}");
            let iou = better.iou(d);
            // Up to float rounding of the union of boxes thousands of
            // pixels wide.
            assert!(
                (0.0..=1.0 + 1e-5).contains(&iou),
                "iou {iou}: {better:?} {d:?}"
            );
            assert!(
                better.class != d.class || iou <= NMS_IOU,
                "{better:?} {d:?}"
            );
        }
    }
    let json = api::detections_json(&found);
    assert!(json.starts_with(b"[") && json.ends_with(b"]"));
}

/// Whether some row has `score` for `class`, and nothing higher.
fn is_best_of_a_row(scores: &[f32], class: usize, score: f32) -> bool {
    scores.chunks_exact(NUM_CLASSES).any(|row| {
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
    match api::predict_filter(text, &Settings::default()) {
        Ok(f) => {
            assert!(escapes_are_well_formed(text), "{text:?} taken: {f:?}");
            assert!((0.0..=1.0).contains(&f.threshold), "{text:?}: {f:?}");
            assert!(
                (1..=MAX_DETECTIONS_LIMIT).contains(&f.max),
                "{text:?}: {f:?}"
            );
            if let Some(classes) = &f.classes {
                assert!(!classes.is_empty(), "{text:?}: {f:?}");
                assert!(classes.iter().all(|&c| c < NUM_CLASSES), "{text:?}: {f:?}");
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
