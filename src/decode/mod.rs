//! From uploaded bytes to upright RGB8 pixels: check the bytes are the format
//! the client declared, refuse images over the pixel budget before decoding
//! them, decode, and apply the EXIF orientation so boxes are in the pixels of
//! the image as people see it.
//!
//! One file per format: `jpeg.rs` (jpeg-decoder, the header walk, scaled
//! decoding and its memory), `png.rs` (the png crate, rows resized as they
//! arrive) and `exif.rs` (the Orientation tag and turning the pixels).

mod exif;
mod jpeg;
mod png;

use crate::memory::mib;
use exif::upright;
use jpeg::{decode_jpeg, jpeg_header, jpeg_memory, JpegFrame};
pub use jpeg::{jpeg_reduction, kept_for};
use png::{decode_png, png_header};
use std::fmt;

/// Largest image accepted, in pixels (e.g. 8000 x 4000). Bounds the memory a
/// request can take whatever its (at most 5 MB) compressed size.
pub const MAX_PIXELS: u64 = 32_000_000;

/// Longest side accepted, in pixels (longer than any camera sensor's).
/// Within `MAX_PIXELS` an image can still be a 100000x1 strip, whose rows
/// make decoders allocate by its width and which, its long side scaled to
/// the model's 416 pixels, has nothing left to detect.
pub const MAX_SIDE: u32 = 16_384;

/// Whether a `width` x `height` image is over `MAX_PIXELS` or `MAX_SIDE`.
fn too_large(width: u32, height: u32) -> bool {
    width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS
}

/// Image formats the detector takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jpeg,
    Png,
}

impl Format {
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
        }
    }

    /// The format the bytes' signature says, if it is one we take.
    pub fn sniff(bytes: &[u8]) -> Option<Format> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Format::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Format::Png)
        } else {
            None
        }
    }
}

/// Upright pixels, 3 bytes (R, G, B) per pixel, row by row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbImage {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
    /// How many of the photo's pixels one pixel here spans along each side:
    /// 1, or 2, 4 or 8 for a JPEG decoded at a reduced DCT scale.
    pub reduction: u32,
    /// The photo's own size: `width` x `height` times `reduction`, less
    /// what the last, partial 8x8 blocks round up.
    pub photo_width: u32,
    pub photo_height: u32,
}

impl RgbImage {
    /// Every pixel of a `width` x `height` photo.
    pub fn full(width: u32, height: u32, pixels: Vec<u8>) -> Self {
        RgbImage {
            width,
            height,
            pixels,
            reduction: 1,
            photo_width: width,
            photo_height: height,
        }
    }

    /// Whether the pixels are already at the size the caller said it needs
    /// (`decode_stored`'s `needed`) rather than the photo's or a DCT scale
    /// of it: a PNG is resized row by row as it is decoded, so its
    /// full-size pixels are never held.
    pub fn is_resized(&self) -> bool {
        self.reduction == 1 && (self.width, self.height) != (self.photo_width, self.photo_height)
    }
}

/// Why bytes could not be turned into pixels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The bytes are another format than the declared one, or none we know.
    WrongFormat {
        declared: Format,
        found: Option<Format>,
    },
    /// The header says more pixels than `MAX_PIXELS`, or a side longer
    /// than `MAX_SIDE`.
    TooManyPixels { width: u32, height: u32 },
    /// The bytes are the declared format but do not decode.
    Corrupt { format: Format, reason: String },
    /// Decoding the image would take more memory than the instance has:
    /// `need` bytes (`decode_within`'s reckoning), `available` free.
    NoMemory {
        width: u32,
        height: u32,
        need: u64,
        available: u64,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::WrongFormat {
                declared,
                found: Some(found),
            } => write!(
                f,
                "the body is {} data but content-type says {}",
                found.media_type(),
                declared.media_type()
            ),
            DecodeError::WrongFormat {
                declared,
                found: None,
            } => write!(
                f,
                "the body is not {} data (its first bytes are no {} signature)",
                declared.media_type(),
                declared.media_type()
            ),
            DecodeError::TooManyPixels { width, height } => write!(
                f,
                "the image is {width}x{height} pixels; at most {MAX_PIXELS} pixels, \
                 {MAX_SIDE} a side, are accepted"
            ),
            DecodeError::Corrupt { format, reason } => {
                write!(
                    f,
                    "the {} image could not be decoded: {reason}",
                    format.media_type()
                )
            }
            DecodeError::NoMemory {
                width,
                height,
                need,
                available,
            } => {
                // Memory grows with the pixels: the share that fits.
                let pixels = u64::from(*width) * u64::from(*height);
                let fits = pixels as f64 * *available as f64 / (*need).max(1) as f64;
                write!(
                    f,
                    "the image is {width}x{height} pixels and decoding it takes about {} of \
                     memory, but this instance has {} free; send it smaller (about {} \
                     megapixels of the same kind fit)",
                    mib(*need),
                    mib(*available),
                    crate::decimal::fixed(fits / 1e6, 1).unwrap_or_default(),
                )
            }
        }
    }
}

/// Decodes `bytes`, which the client says are `declared`, to upright RGB8,
/// every pixel.
pub fn decode(bytes: &[u8], declared: Format) -> Result<RgbImage, DecodeError> {
    decode_stored(
        bytes,
        declared,
        |width, height| (width, height),
        pixels::Filter::Pillow,
    )
    .map(Stored::upright)
}

/// Pixels as the file stores them, with the EXIF orientation that shows them
/// upright. Two steps so each can be timed on its own.
pub struct Stored {
    image: RgbImage,
    /// The EXIF Orientation tag, 1 (as stored) to 8.
    orientation: u16,
}

impl Stored {
    /// The pixels as displayed: the EXIF orientation applied.
    pub fn upright(self) -> RgbImage {
        upright(self.image, self.orientation)
    }
}

/// Decodes `bytes`, which the client says are `declared`, to RGB8 as stored.
///
/// `needed(width, height)` is the smallest size the caller will use of a
/// `width` x `height` image (as stored): for the model, the size it is
/// resized to. A JPEG at least twice that on both sides (four times for a
/// point-sampling `filter`, [`kept_for`]) is decoded at 1/2, 1/4 or 1/8
/// scale by scaling its inverse DCT ([`jpeg_reduction`]), which
/// skips most of the work and memory of a phone photo. A PNG cannot be
/// decoded smaller, but its rows are resized to `needed` as they are
/// decoded (`RgbImage::is_resized`) with `filter`, the model's resize, so
/// its full size is never held.
pub fn decode_stored(
    bytes: &[u8],
    declared: Format,
    needed: impl Fn(u32, u32) -> (u32, u32),
    filter: pixels::Filter,
) -> Result<Stored, DecodeError> {
    decode_within(bytes, declared, needed, filter, |_, _| Ok(()))
}

/// [`decode_stored`], with the memory it takes reckoned first: once the
/// header says how the image will be decoded, and before any pixel buffer
/// is allocated, `reserve(bytes, decoded)` is told the most the decoder and
/// the EXIF turn will hold at once (an upper bound: `tests/memory_reckoning.rs`
/// measures it) and the size (width, height) the pixels will have, so the
/// caller can add what it will hold after. It answers `Err((need,
/// available))` when the instance cannot spare what is needed, and the
/// image is refused with [`DecodeError::NoMemory`] before anything large is
/// allocated.
pub fn decode_within(
    bytes: &[u8],
    declared: Format,
    needed: impl Fn(u32, u32) -> (u32, u32),
    filter: pixels::Filter,
    reserve: impl FnOnce(u64, (u32, u32)) -> Result<(), (u64, u64)>,
) -> Result<Stored, DecodeError> {
    let found = Format::sniff(bytes);
    if found != Some(declared) {
        return Err(DecodeError::WrongFormat { declared, found });
    }
    let corrupt = |reason: String| DecodeError::Corrupt {
        format: declared,
        reason,
    };

    // The limits are checked from our own reading of the header, before the
    // decoder allocates anything (its own limits refuse bombs too, but with
    // a less useful message).
    let header = match declared {
        Format::Png => png_header(bytes),
        Format::Jpeg => jpeg_header(bytes),
    };
    if let Some((width, height)) = header.dimensions {
        if too_large(width, height) {
            return Err(DecodeError::TooManyPixels { width, height });
        }
    }
    // A JPEG must reach its end marker: decoders differ on a cut-off scan
    // (some fill the rest with grey), and detections on half an image would
    // be silently wrong.
    if let Some(problem) = header.problem {
        return Err(corrupt(problem.into()));
    }
    let check = |width: u32, height: u32| {
        if too_large(width, height) {
            Err(DecodeError::TooManyPixels { width, height })
        } else if width == 0 || height == 0 {
            Err(corrupt(format!("the image is {width}x{height} pixels")))
        } else {
            Ok(())
        }
    };
    if let Some((width, height)) = header.dimensions {
        check(width, height)?;
    }
    let reserve = |(width, height): (u32, u32), bytes: u64, decoded: (u32, u32)| {
        reserve(bytes, decoded).map_err(|(need, available)| DecodeError::NoMemory {
            width,
            height,
            need,
            available,
        })
    };
    match declared {
        Format::Jpeg => {
            let frame = header.frame.unwrap_or_default();
            decode_jpeg(
                bytes,
                check,
                |w, h| kept_for(filter, needed(w, h)),
                |(w, h), reduction, orientation| {
                    let decoded = pixels::orient::displayed_size(
                        w.div_ceil(reduction),
                        h.div_ceil(reduction),
                        orientation,
                    );
                    let bytes = jpeg_memory(&frame, (w, h), reduction, orientation != 1);
                    reserve((w, h), bytes, decoded)
                },
            )
        }
        Format::Png => decode_png(bytes, check, needed, filter, reserve),
    }
}

/// What the header says, read without decoding.
#[derive(Debug, Default, PartialEq, Eq)]
struct Header {
    /// Width and height as stored, when the header could be read.
    dimensions: Option<(u32, u32)>,
    /// Why the file cannot be a whole image, when that shows already.
    problem: Option<&'static str>,
    /// A JPEG's frame layout, which sizes the decoder's buffers.
    frame: Option<JpegFrame>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageEncoder, Rgb};

    fn png(width: u32, height: u32, color: image::ExtendedColorType, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        image::codecs::png::PngEncoder::new(&mut out)
            .write_image(data, width, height, color)
            .unwrap();
        out
    }

    fn jpeg(img: &image::RgbImage) -> Vec<u8> {
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95)
            .encode_image(img)
            .unwrap();
        out
    }

    /// Inserts an EXIF block saying "turn 90 degrees clockwise to show"
    /// (Orientation 6, big-endian TIFF) after a JPEG's start marker.
    fn tag_orientation_6(jpeg: &mut Vec<u8>) {
        let exif: &[u8] = &[
            b'E', b'x', b'i', b'f', 0, 0, b'M', b'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0,
            0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0,
        ];
        let mut app1 = vec![0xFF, 0xE1];
        app1.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
        app1.extend_from_slice(exif);
        jpeg.splice(2..2, app1);
    }

    /// A real 16x8 JPEG whose frame header is changed to claim another size.
    fn jpeg_claiming(width: u16, height: u16) -> Vec<u8> {
        let mut j = jpeg(&image::RgbImage::new(16, 8));
        // FF C0, length, precision, then height and width.
        let sof = j.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        j[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
        j[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
        j
    }

    #[test]
    fn sniffs_signatures() {
        assert_eq!(Format::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(Format::Jpeg));
        assert_eq!(Format::sniff(b"\x89PNG\r\n\x1a\n...."), Some(Format::Png));
        assert_eq!(Format::sniff(b"GIF89a"), None);
        assert_eq!(Format::sniff(b""), None);
    }

    #[test]
    fn decodes_png_of_every_colour_type_to_rgb() {
        use image::ExtendedColorType as C;
        let gray = decode(&png(2, 1, C::L8, &[0, 255]), Format::Png).unwrap();
        assert_eq!(gray.pixels, [0, 0, 0, 255, 255, 255]);
        let rgba = decode(&png(1, 1, C::Rgba8, &[10, 20, 30, 0]), Format::Png).unwrap();
        assert_eq!(rgba.pixels, [10, 20, 30]);
        let deep = decode(
            &png(1, 1, C::Rgb16, &[0xFF, 0xFF, 0, 0, 0x80, 0x00]),
            Format::Png,
        )
        .unwrap();
        assert_eq!((deep.width, deep.height), (1, 1));
        assert_eq!(deep.pixels[0], 255);
        assert_eq!(deep.pixels[1], 0);
    }

    #[test]
    fn decodes_jpeg() {
        let img = image::RgbImage::from_pixel(16, 8, Rgb([200, 100, 50]));
        let out = decode(&jpeg(&img), Format::Jpeg).unwrap();
        assert_eq!((out.width, out.height), (16, 8));
        assert!(out.pixels[0].abs_diff(200) < 8);
    }

    #[test]
    fn refuses_a_format_other_than_the_declared_one() {
        let p = png(1, 1, image::ExtendedColorType::L8, &[0]);
        assert_eq!(
            decode(&p, Format::Jpeg),
            Err(DecodeError::WrongFormat {
                declared: Format::Jpeg,
                found: Some(Format::Png)
            })
        );
        let err = decode(b"hello", Format::Png).unwrap_err();
        assert!(err.to_string().contains("not image/png"), "{err}");
    }

    #[test]
    fn refuses_truncated_and_corrupt_images() {
        let img = image::RgbImage::from_pixel(64, 64, Rgb([1, 2, 3]));
        let j = jpeg(&img);
        assert!(matches!(
            decode(&j[..j.len() / 2], Format::Jpeg),
            Err(DecodeError::Corrupt { .. })
        ));
        let p = png(64, 64, image::ExtendedColorType::Rgb8, img.as_raw());
        assert!(matches!(
            decode(&p[..40], Format::Png),
            Err(DecodeError::Corrupt { .. })
        ));
        // A real JPEG whose frame header is changed to claim 60000x60000.
        assert_eq!(
            decode(&jpeg_claiming(60_000, 60_000), Format::Jpeg),
            Err(DecodeError::TooManyPixels {
                width: 60_000,
                height: 60_000
            })
        );
    }

    #[test]
    fn a_jpeg_cut_anywhere_is_refused_and_trailing_bytes_are_not() {
        let img = image::RgbImage::from_fn(64, 48, |x, y| Rgb([x as u8 * 4, y as u8 * 5, 90]));
        let j = jpeg(&img);
        let header = jpeg_header(&j);
        assert_eq!((header.dimensions, header.problem), (Some((64, 48)), None));
        let frame = header.frame.unwrap();
        assert!(!frame.progressive);
        assert_eq!(frame.sampling.len(), 3, "{frame:?}");
        for cut in (3..j.len() - 1).step_by(7) {
            assert!(jpeg_header(&j[..cut]).problem.is_some(), "cut at {cut}");
            assert!(decode(&j[..cut], Format::Jpeg).is_err(), "cut at {cut}");
        }
        let mut trailing = j.clone();
        trailing.extend_from_slice(b"appended by a camera");
        assert!(decode(&trailing, Format::Jpeg).is_ok());
    }

    /// A smooth, colourful `width` x `height` photo-like image.
    fn gradient(width: u32, height: u32) -> image::RgbImage {
        image::RgbImage::from_fn(width, height, |x, y| {
            let (fx, fy) = (x as f32 / width as f32, y as f32 / height as f32);
            Rgb([
                (255.0 * fx) as u8,
                (255.0 * fy) as u8,
                (128.0 + 100.0 * (6.0 * fx).sin() * (4.0 * fy).cos()) as u8,
            ])
        })
    }

    /// What the letterbox needs of a `width` x `height` image: 416 on the
    /// longest side (as `Preprocess::needed_size` with NanoDet's input).
    fn letterbox_need(width: u32, height: u32) -> (u32, u32) {
        crate::preprocess::Placement::letterbox(width, height, 416).inner_size()
    }

    #[test]
    fn the_reduction_is_pillows_draft_rule() {
        // A 12-megapixel phone photo: 500x375 still covers 416x312.
        assert_eq!(jpeg_reduction(4000, 3000, (416, 312)), 8);
        assert_eq!(jpeg_reduction(3000, 4000, (312, 416)), 8);
        // Twice the need on both sides, or nothing.
        assert_eq!(jpeg_reduction(832, 624, (416, 312)), 2);
        assert_eq!(jpeg_reduction(831, 624, (416, 312)), 1);
        assert_eq!(jpeg_reduction(1664, 1248, (416, 312)), 4);
        assert_eq!(jpeg_reduction(640, 480, (416, 312)), 1);
        // A long strip is limited by its short side's need.
        assert_eq!(jpeg_reduction(16_384, 2, (416, 1)), 2);
        assert_eq!(jpeg_reduction(2, 16_384, (1, 416)), 2);
        assert_eq!(jpeg_reduction(1, 1, (1, 1)), 1);
        assert_eq!(jpeg_reduction(0, 0, (0, 0)), 1);
        // A point-sampling resize keeps four times what it reads.
        let tf = |needed| kept_for(pixels::Filter::TensorFlow, needed);
        assert_eq!(jpeg_reduction(4000, 3000, tf((300, 300))), 2);
        assert_eq!(jpeg_reduction(4000, 4000, tf((300, 300))), 2);
        assert_eq!(jpeg_reduction(2000, 1330, tf((300, 300))), 1);
        assert_eq!(jpeg_reduction(9600, 7200, tf((300, 300))), 4);
        assert_eq!(tf((u32::MAX, 1)), (u32::MAX, 4));
        let pillow = kept_for(pixels::Filter::Pillow, (416, 312));
        assert_eq!(jpeg_reduction(4000, 3000, pillow), 8);
    }

    /// Mean absolute difference between a reduced decode and the full decode
    /// averaged over the same `reduction` x `reduction` squares.
    fn mean_error_against_box_average(full: &RgbImage, reduced: &RgbImage) -> f64 {
        let r = reduced.reduction as usize;
        let (fw, fh) = (full.width as usize, full.height as usize);
        let mut total = 0.0;
        for y in 0..reduced.height as usize {
            for x in 0..reduced.width as usize {
                for c in 0..3 {
                    let (mut sum, mut n) = (0.0, 0.0);
                    for yy in y * r..((y + 1) * r).min(fh) {
                        for xx in x * r..((x + 1) * r).min(fw) {
                            sum += f64::from(full.pixels[(yy * fw + xx) * 3 + c]);
                            n += 1.0;
                        }
                    }
                    let got = f64::from(reduced.pixels[(y * reduced.width as usize + x) * 3 + c]);
                    total += (got - sum / n).abs();
                }
            }
        }
        total / reduced.pixels.len() as f64
    }

    #[test]
    fn large_jpegs_are_decoded_at_the_scale_the_letterbox_needs() {
        // 1700x1300: 4x the need (416x318) at most; not a multiple of 8.
        let j = jpeg(&gradient(1700, 1300));
        let full = decode(&j, Format::Jpeg).unwrap();
        assert_eq!((full.reduction, full.width, full.height), (1, 1700, 1300));
        let reduced = decode_stored(&j, Format::Jpeg, letterbox_need, pixels::Filter::Pillow)
            .unwrap()
            .upright();
        assert_eq!(
            (reduced.reduction, reduced.width, reduced.height),
            (4, 425, 325)
        );
        assert_eq!((reduced.photo_width, reduced.photo_height), (1700, 1300));
        assert_eq!(reduced.pixels.len(), 425 * 325 * 3);
        let error = mean_error_against_box_average(&full, &reduced);
        assert!(error < 2.0, "mean error {error}");
        // A strip is reduced as far as its short side allows, no further.
        for (w, h) in [(16_384, 2), (2, 16_384)] {
            let strip = decode_stored(
                &jpeg(&gradient(w, h)),
                Format::Jpeg,
                letterbox_need,
                pixels::Filter::Pillow,
            )
            .unwrap()
            .upright();
            assert_eq!(
                (strip.reduction, strip.width, strip.height),
                (2, w / 2, h / 2)
            );
        }
        // Small JPEGs are decoded whole.
        let small = decode_stored(
            &jpeg(&gradient(800, 600)),
            Format::Jpeg,
            letterbox_need,
            pixels::Filter::Pillow,
        )
        .unwrap()
        .upright();
        assert_eq!((small.reduction, small.width), (1, 800));
    }

    #[test]
    fn png_rows_are_resized_as_they_are_decoded_to_the_same_pixels() {
        use image::ExtendedColorType as C;
        let rgb = gradient(900, 700);
        let grey: Vec<u8> = rgb.as_raw().chunks_exact(3).map(|p| p[1]).collect();
        let rgba: Vec<u8> = rgb
            .as_raw()
            .chunks_exact(3)
            .flat_map(|p| [p[0], p[1], p[2], 9])
            .collect();
        for (color, samples) in [(C::Rgb8, rgb.as_raw()), (C::L8, &grey), (C::Rgba8, &rgba)] {
            let p = png(900, 700, color, samples);
            let streamed = decode_stored(&p, Format::Png, letterbox_need, pixels::Filter::Pillow)
                .unwrap()
                .upright();
            assert!(streamed.is_resized(), "{color:?}");
            assert_eq!((streamed.width, streamed.height), (416, 324));
            assert_eq!((streamed.photo_width, streamed.photo_height), (900, 700));
            // The same bytes as decoding whole, then resizing.
            let whole = decode(&p, Format::Png).unwrap();
            assert!(!whole.is_resized());
            let (want, _) = crate::preprocess::letterbox_resize(&whole.pixels, 900, 700, 416);
            assert_eq!(streamed.pixels, want, "{color:?}");
        }
    }

    #[test]
    fn reduced_greyscale_and_turned_jpegs() {
        let grey = image::GrayImage::from_fn(1000, 840, |x, y| image::Luma([((x + y) / 8) as u8]));
        let mut j = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut j, 90)
            .encode_image(&grey)
            .unwrap();
        let out = decode_stored(&j, Format::Jpeg, letterbox_need, pixels::Filter::Pillow)
            .unwrap()
            .upright();
        assert_eq!((out.reduction, out.width, out.height), (2, 500, 420));
        let px = &out.pixels[(100 * 500 + 200) * 3..][..3];
        assert!(px[0] == px[1] && px[1] == px[2], "{px:?}");
        assert!(px[0].abs_diff(((400 + 200) / 8) as u8) <= 3, "{px:?}");

        // Stored 1200x1800 on its side (EXIF 6): displayed 1800x1200, and the
        // photo's size turns with the pixels.
        let mut j = jpeg(&gradient(1200, 1800));
        tag_orientation_6(&mut j);
        let out = decode_stored(&j, Format::Jpeg, letterbox_need, pixels::Filter::Pillow)
            .unwrap()
            .upright();
        assert_eq!((out.reduction, out.width, out.height), (4, 450, 300));
        assert_eq!((out.photo_width, out.photo_height), (1800, 1200));
    }

    /// A PNG whose header claims `width` x `height`, followed by a few bytes of
    /// pixel data: the shape of a decompression bomb.
    fn png_header_only(width: u32, height: u32) -> Vec<u8> {
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&width.to_be_bytes());
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        for (kind, data) in [
            (b"IHDR", ihdr.as_slice()),
            (b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]),
            (b"IEND", &[]),
        ] {
            out.extend_from_slice(&(data.len() as u32).to_be_bytes());
            let start = out.len();
            out.extend_from_slice(kind);
            out.extend_from_slice(data);
            let crc = crc32(&out[start..]);
            out.extend_from_slice(&crc.to_be_bytes());
        }
        out
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn refuses_decompression_bombs_from_the_header() {
        for (w, h) in [(60_000, 60_000), (100_000, 400)] {
            assert_eq!(
                decode(&png_header_only(w, h), Format::Png),
                Err(DecodeError::TooManyPixels {
                    width: w,
                    height: h
                })
            );
        }
        // Within the budget, the same file is simply short of data.
        assert!(matches!(
            decode(&png_header_only(100, 100), Format::Png),
            Err(DecodeError::Corrupt { .. })
        ));
    }

    #[test]
    fn refuses_a_side_over_max_side_even_within_the_pixel_budget() {
        use image::ExtendedColorType::L8;
        // A whole, valid PNG of 100000 pixels, far within MAX_PIXELS.
        let strip = png(100_000, 1, L8, &vec![7; 100_000]);
        assert_eq!(
            decode(&strip, Format::Png),
            Err(DecodeError::TooManyPixels {
                width: 100_000,
                height: 1
            })
        );
        let tall = png_header_only(1, MAX_SIDE + 1);
        assert!(matches!(
            decode(&tall, Format::Png),
            Err(DecodeError::TooManyPixels { .. })
        ));
        // A JPEG's frame header changed to claim 65535x1.
        assert_eq!(
            decode(&jpeg_claiming(65_535, 1), Format::Jpeg),
            Err(DecodeError::TooManyPixels {
                width: 65_535,
                height: 1
            })
        );
        // At the limit, a strip one pixel across is taken.
        let side = MAX_SIDE as usize;
        let edge = decode(&png(MAX_SIDE, 1, L8, &vec![7; side]), Format::Png).unwrap();
        assert_eq!(
            (edge.width, edge.height, edge.pixels.len()),
            (MAX_SIDE, 1, side * 3)
        );
    }

    #[test]
    fn applies_exif_orientation() {
        // A 2x1 JPEG (red, blue) tagged "rotate 90 clockwise" displays as 1x2.
        let mut img = image::RgbImage::new(16, 8);
        for (x, _, p) in img.enumerate_pixels_mut() {
            *p = if x < 8 {
                Rgb([255, 0, 0])
            } else {
                Rgb([0, 0, 255])
            };
        }
        let mut j = jpeg(&img);
        tag_orientation_6(&mut j);
        let out = decode(&j, Format::Jpeg).unwrap();
        assert_eq!((out.width, out.height), (8, 16));
        // Rotated clockwise: the left (red) half is now on top.
        assert!(
            out.pixels[0] > 200 && out.pixels[2] < 60,
            "{:?}",
            &out.pixels[..3]
        );
    }
}
