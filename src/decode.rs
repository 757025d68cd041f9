//! From uploaded bytes to upright RGB8 pixels: check the bytes are the format
//! the client declared, refuse images over the pixel budget before decoding
//! them, decode, and apply the EXIF orientation so boxes are in the pixels of
//! the image as people see it.

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use std::fmt;
use std::io::Cursor;

/// Largest image accepted, in pixels (e.g. 8000 x 4000). Bounds the memory a
/// request can take whatever its (at most 5 MB) compressed size.
pub const MAX_PIXELS: u64 = 32_000_000;

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

    fn image_format(self) -> ImageFormat {
        match self {
            Format::Jpeg => ImageFormat::Jpeg,
            Format::Png => ImageFormat::Png,
        }
    }
}

/// Upright pixels, 3 bytes (R, G, B) per pixel, row by row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbImage {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

/// Why bytes could not be turned into pixels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The bytes are another format than the declared one, or none we know.
    WrongFormat {
        declared: Format,
        found: Option<Format>,
    },
    /// The header says more pixels than `MAX_PIXELS`.
    TooManyPixels { width: u32, height: u32 },
    /// The bytes are the declared format but do not decode.
    Corrupt { format: Format, reason: String },
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
                "the image is {width}x{height} pixels; at most {MAX_PIXELS} pixels are accepted"
            ),
            DecodeError::Corrupt { format, reason } => {
                write!(
                    f,
                    "the {} image could not be decoded: {reason}",
                    format.media_type()
                )
            }
        }
    }
}

/// Decodes `bytes`, which the client says are `declared`, to upright RGB8.
pub fn decode(bytes: &[u8], declared: Format) -> Result<RgbImage, DecodeError> {
    let found = Format::sniff(bytes);
    if found != Some(declared) {
        return Err(DecodeError::WrongFormat { declared, found });
    }
    let corrupt = |reason: String| DecodeError::Corrupt {
        format: declared,
        reason,
    };

    // The budget is checked from our own reading of the header, before the
    // decoder allocates anything (its own limits refuse bombs too, but with
    // a less useful message).
    let header = match declared {
        Format::Png => png_header(bytes),
        Format::Jpeg => jpeg_header(bytes),
    };
    if let Some((width, height)) = header.dimensions {
        if u64::from(width) * u64::from(height) > MAX_PIXELS {
            return Err(DecodeError::TooManyPixels { width, height });
        }
    }
    // The JPEG decoder fills a cut-off scan with grey rather than failing;
    // detections on half an image would be silently wrong.
    if let Some(problem) = header.problem {
        return Err(corrupt(problem.into()));
    }

    let mut reader = ImageReader::with_format(Cursor::new(bytes), declared.image_format());
    reader.limits(Limits::default());
    let mut decoder = reader.into_decoder().map_err(|e| corrupt(e.to_string()))?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(DecodeError::TooManyPixels { width, height });
    }
    if width == 0 || height == 0 {
        return Err(corrupt(format!("the image is {width}x{height} pixels")));
    }
    // A broken EXIF block is not worth refusing the photo for: show it as stored.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let rgb = DynamicImage::from_decoder(decoder)
        .map_err(|e| corrupt(e.to_string()))?
        .into_rgb8();
    // Turned after the conversion to RGB8, so only one pixel type's rotations
    // are compiled into the component.
    let rgb = upright(rgb, orientation);
    Ok(RgbImage {
        width: rgb.width(),
        height: rgb.height(),
        pixels: rgb.into_raw(),
    })
}

/// What the header says, read without decoding.
#[derive(Debug, Default, PartialEq, Eq)]
struct Header {
    /// Width and height as stored, when the header could be read.
    dimensions: Option<(u32, u32)>,
    /// Why the file cannot be a whole image, when that shows already.
    problem: Option<&'static str>,
}

/// A PNG's size from its first chunk, IHDR (at a fixed offset).
fn png_header(bytes: &[u8]) -> Header {
    let be = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let dimensions = match (bytes.get(12..16), be(16), be(20)) {
        (Some(b"IHDR"), Some(w), Some(h)) => Some((w, h)),
        _ => None,
    };
    Header {
        dimensions,
        problem: None,
    }
}

/// Walks a JPEG's segments from its start marker to its end marker (EOI):
/// the size from the first frame header (SOFn), and a problem if the bytes
/// run out before EOI. Bytes after EOI (some cameras append data) are fine.
fn jpeg_header(bytes: &[u8]) -> Header {
    let mut dimensions = None;
    let problem = walk_jpeg(bytes, |code, segment| {
        // SOF0-SOF15 but DHT (C4), JPG (C8) and DAC (CC): precision, height, width.
        let is_frame = matches!(code, 0xC0..=0xCF) && !matches!(code, 0xC4 | 0xC8 | 0xCC);
        if is_frame && dimensions.is_none() && segment.len() >= 5 {
            let height = u16::from_be_bytes([segment[1], segment[2]]);
            let width = u16::from_be_bytes([segment[3], segment[4]]);
            dimensions = Some((u32::from(width), u32::from(height)));
        }
    })
    .err();
    Header {
        dimensions,
        problem,
    }
}

/// Calls `on_segment(marker code, segment payload)` for each marker segment
/// up to EOI; an error when the structure breaks or the bytes run out.
fn walk_jpeg(bytes: &[u8], mut on_segment: impl FnMut(u8, &[u8])) -> Result<(), &'static str> {
    const TRUNCATED: &str = "the JPEG data ends before its end marker (truncated upload?)";
    let mut i = 2; // after SOI
    loop {
        // A marker: 0xFF (any number of fill 0xFF), then its code.
        if *bytes.get(i).ok_or(TRUNCATED)? != 0xFF {
            return Err("a JPEG segment does not start with a marker");
        }
        while bytes.get(i) == Some(&0xFF) {
            i += 1;
        }
        let code = *bytes.get(i).ok_or(TRUNCATED)?;
        i += 1;
        match code {
            0xD9 => return Ok(()),
            // Markers without a length: TEM and restart markers.
            0x01 | 0xD0..=0xD7 => continue,
            _ => {}
        }
        let len = bytes.get(i..i + 2).ok_or(TRUNCATED)?;
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        if len < 2 {
            return Err("a JPEG segment has an impossible length");
        }
        on_segment(code, bytes.get(i + 2..i + len).ok_or(TRUNCATED)?);
        i += len;
        if code == 0xDA {
            // Entropy-coded scan data: it ends at the first 0xFF that is not
            // a stuffed 0xFF00 or a restart marker.
            loop {
                let ff = bytes[i..]
                    .iter()
                    .position(|&b| b == 0xFF)
                    .ok_or(TRUNCATED)?;
                i += ff;
                match bytes.get(i + 1) {
                    None => return Err(TRUNCATED),
                    Some(0x00 | 0xD0..=0xD7) => i += 2,
                    Some(_) => break,
                }
            }
        }
    }
}

/// The image as displayed, given how its EXIF tag says it is stored.
fn upright(image: image::RgbImage, orientation: Orientation) -> image::RgbImage {
    use image::imageops::{flip_horizontal, flip_vertical, rotate180, rotate270, rotate90};
    match orientation {
        Orientation::NoTransforms => image,
        Orientation::Rotate90 => rotate90(&image),
        Orientation::Rotate180 => rotate180(&image),
        Orientation::Rotate270 => rotate270(&image),
        Orientation::FlipHorizontal => flip_horizontal(&image),
        Orientation::FlipVertical => flip_vertical(&image),
        Orientation::Rotate90FlipH => flip_horizontal(&rotate90(&image)),
        Orientation::Rotate270FlipH => flip_horizontal(&rotate270(&image)),
    }
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
        let mut j = jpeg(&image::RgbImage::new(16, 8));
        let sof = j.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        j[sof + 5..sof + 9].copy_from_slice(&[0xEA, 0x60, 0xEA, 0x60]);
        assert_eq!(
            decode(&j, Format::Jpeg),
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
        assert_eq!(
            jpeg_header(&j),
            Header {
                dimensions: Some((64, 48)),
                problem: None
            }
        );
        for cut in (3..j.len() - 1).step_by(7) {
            assert!(jpeg_header(&j[..cut]).problem.is_some(), "cut at {cut}");
            assert!(decode(&j[..cut], Format::Jpeg).is_err(), "cut at {cut}");
        }
        let mut trailing = j.clone();
        trailing.extend_from_slice(b"appended by a camera");
        assert!(decode(&trailing, Format::Jpeg).is_ok());
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
    fn upright_agrees_with_the_image_crate_for_all_eight_orientations() {
        let stored = image::RgbImage::from_fn(3, 2, |x, y| Rgb([x as u8, y as u8, 0]));
        for tag in 1..=8 {
            let o = Orientation::from_exif(tag).unwrap();
            let mut want = DynamicImage::ImageRgb8(stored.clone());
            want.apply_orientation(o);
            assert_eq!(
                upright(stored.clone(), o),
                want.into_rgb8(),
                "orientation {tag}"
            );
        }
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
        let exif: &[u8] = &[
            b'E', b'x', b'i', b'f', 0, 0, b'M', b'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0,
            0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0,
        ];
        let mut app1 = vec![0xFF, 0xE1];
        app1.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
        app1.extend_from_slice(exif);
        j.splice(2..2, app1);
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
