//! JPEG: the header read without decoding (size, frame layout, whether the
//! data reaches its end marker), the memory a decode will hold, and the
//! decode itself with jpeg-decoder, at a reduced DCT scale when the model
//! needs less than the photo has.

use super::exif::exif_orientation;
use super::{DecodeError, Format, Header, RgbImage, Stored, MAX_PIXELS};

/// The most a JPEG's decode holds at once, in bytes, decoded at 1/`reduction`
/// of its `width` x `height` (jpeg-decoder's buffers, `Decoder::decode`):
/// each component's plane at the decoded scale (whole 8x8 blocks of whole
/// MCUs) with a progressive image's coefficients at full scale (two bytes
/// each, 64 a block) and the interleaved output; then that output and its
/// conversion to RGB (greyscale, CMYK); then the RGB and its turned copy
/// when the EXIF orientation asks for one.
pub(super) fn jpeg_memory(
    frame: &JpegFrame,
    (width, height): (u32, u32),
    reduction: u32,
    turned: bool,
) -> u64 {
    let (width, height) = (u64::from(width), u64::from(height));
    let components = frame.sampling.len().max(1) as u64;
    let h_max = frame.sampling.iter().map(|s| s.0).max().unwrap_or(1).max(1);
    let v_max = frame.sampling.iter().map(|s| s.1).max().unwrap_or(1).max(1);
    let mcus_x = width.div_ceil(8 * u64::from(h_max));
    let mcus_y = height.div_ceil(8 * u64::from(v_max));
    let blocks: u64 = if frame.sampling.is_empty() {
        components * width.div_ceil(8) * height.div_ceil(8)
    } else {
        frame
            .sampling
            .iter()
            .map(|&(h, v)| mcus_x * u64::from(h) * mcus_y * u64::from(v))
            .sum()
    };
    let scale = 8 / u64::from(reduction.clamp(1, 8));
    let planes = blocks * scale * scale;
    let coefficients = if frame.progressive {
        blocks * 64 * 2
    } else {
        // One MCU row's at a time.
        blocks / mcus_y.max(1) * 64 * 2
    };
    let pixels = width.div_ceil(u64::from(reduction)) * height.div_ceil(u64::from(reduction));
    // The planes, then interleaved (a single component is its plane), then
    // RGB; the coefficients are held until the decoder is dropped, the
    // turned copy is made after.
    let output = if components == 1 {
        0
    } else {
        pixels * components
    };
    let rgb = if components == 3 { 0 } else { pixels * 3 };
    let decoding = coefficients + planes + output;
    let converting = coefficients + output.max(planes) + rgb;
    let turning = if turned { pixels * 3 * 2 } else { 0 };
    decoding.max(converting).max(turning)
}

/// How large a JPEG must stay, decoded at a reduced DCT scale, for `filter`
/// to resize it to `needed` as it would the full image. Pillow's bilinear
/// averages every source pixel under its support, as the reduced DCT does
/// (an 8x8 block's mean at 1/8): `needed` suffices. TensorFlow's bilinear
/// (no antialiasing) reads single source pixels, so a block mean is not
/// what it would have read: against TF.js coco-ssd on the phone photos of
/// `tests/fixtures/make_phone_photos.py`, a decode at 1/8 moved scores by
/// up to 0.097, at 1/4 by 0.022, at 1/2 by 0.005 (docs/models.md). Four
/// times `needed` keeps a 12-megapixel photo at 1/2.
pub fn kept_for(filter: pixels::Filter, needed: (u32, u32)) -> (u32, u32) {
    const POINT_SAMPLED: u32 = 4;
    match filter {
        pixels::Filter::Pillow => needed,
        pixels::Filter::TensorFlow => (
            needed.0.saturating_mul(POINT_SAMPLED),
            needed.1.saturating_mul(POINT_SAMPLED),
        ),
    }
}

/// How much smaller than stored a `width` x `height` JPEG can be decoded
/// when the caller needs `needed` (width, height) of it: the largest of 8,
/// 4, 2 and 1 that divides neither side below what is needed. The same rule
/// as Pillow's `Image.draft` (libjpeg's `scale_denom`), so the reference
/// pipeline makes the same choice.
pub fn jpeg_reduction(width: u32, height: u32, needed: (u32, u32)) -> u32 {
    let room = (width / needed.0.max(1)).min(height / needed.1.max(1));
    [8, 4, 2, 1].into_iter().find(|&r| room >= r).unwrap_or(1)
}

/// JPEG (baseline or progressive; grey, YCbCr, RGB, CMYK or YCCK) to RGB8,
/// with jpeg-decoder. It is the one maintained Rust decoder that scales its
/// inverse DCT (4x4, 2x2 or 1x1 pixels straight from each 8x8 block's
/// coefficients), so a phone photo costs little more than its Huffman
/// decode; and in wasm it decodes full-size photos faster than zune-jpeg
/// too (its IDCT and colour conversion use WebAssembly SIMD): 3.0 against
/// 3.5 ms for a 640x480 photo, measured in the component.
pub(super) fn decode_jpeg(
    bytes: &[u8],
    check: impl Fn(u32, u32) -> Result<(), DecodeError>,
    needed: impl Fn(u32, u32) -> (u32, u32),
    reserve: impl FnOnce((u32, u32), u32, u16) -> Result<(), DecodeError>,
) -> Result<Stored, DecodeError> {
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    // Beside the header checks: no output larger than the pixel budget's.
    decoder.set_max_decoding_buffer_size(MAX_PIXELS as usize * 4);
    decoder
        .read_info()
        .map_err(|e| jpeg_corrupt(e.to_string()))?;
    let info = decoder
        .info()
        .ok_or_else(|| jpeg_corrupt("no frame header".into()))?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    check(width, height)?;
    // jpeg-decoder picks the smallest DCT size at which either side reaches
    // the size asked for: ask for the longer side only (the other can never
    // be reached), which is at least the model's side when reduced, so
    // exactly `reduction` reaches it.
    let reduction = jpeg_reduction(width, height, needed(width, height));
    let scaled = |len: u32| len.div_ceil(reduction);
    let ask = |len: u32| u16::try_from(scaled(len)).unwrap_or(u16::MAX);
    let asked = if width >= height {
        (ask(width), u16::MAX)
    } else {
        (u16::MAX, ask(height))
    };
    let (w, h) = decoder
        .scale(asked.0, asked.1)
        .map_err(|e| jpeg_corrupt(e.to_string()))?;
    let (w, h) = (u32::from(w), u32::from(h));
    if (w, h) != (scaled(width), scaled(height)) {
        return Err(jpeg_corrupt(format!(
            "the decoder scaled {width}x{height} to {w}x{h}, not 1/{reduction}"
        )));
    }
    // The EXIF block, when it comes before the frame (as cameras write it),
    // says already whether the pixels will be turned.
    let orientation = decoder.exif_data().map_or(1, exif_orientation);
    reserve((width, height), reduction, orientation)?;
    // A phone photo at 1/8 scale, its most common case, from the DC
    // coefficients alone (`pixels::jpeg_dc`); what that path does not take
    // goes through jpeg-decoder.
    let eighth = (reduction == 8)
        .then(|| pixels::jpeg_dc::decode_eighth(bytes, width, height))
        .flatten()
        .filter(|&(dw, dh, _)| (dw, dh) == (w, h));
    let pixels = match eighth {
        Some((_, _, pixels)) => pixels,
        None => jpeg_pixels(&mut decoder, info.pixel_format)?,
    };
    if pixels.len() as u64 != u64::from(w) * u64::from(h) * 3 {
        return Err(jpeg_corrupt(format!(
            "the decoder gave {} bytes for {w}x{h} pixels",
            pixels.len()
        )));
    }
    // A broken EXIF block is not worth refusing the photo for: show it as
    // stored. (Read again: an EXIF block after the frame is read by now.)
    let orientation = decoder.exif_data().map_or(1, exif_orientation);
    Ok(Stored {
        image: RgbImage {
            width: w,
            height: h,
            pixels,
            reduction,
            photo_width: width,
            photo_height: height,
        },
        orientation,
    })
}

/// jpeg-decoder's pixels, at the scale set, as RGB8.
fn jpeg_pixels(
    decoder: &mut jpeg_decoder::Decoder<&[u8]>,
    format: jpeg_decoder::PixelFormat,
) -> Result<Vec<u8>, DecodeError> {
    let samples = decoder.decode().map_err(|e| jpeg_corrupt(e.to_string()))?;
    Ok(match format {
        jpeg_decoder::PixelFormat::RGB24 => samples,
        jpeg_decoder::PixelFormat::L8 => {
            let mut rgb = vec![0u8; samples.len() * 3];
            pixels::samples::to_rgb(1, &samples, &mut rgb);
            rgb
        }
        jpeg_decoder::PixelFormat::CMYK32 => cmyk_to_rgb(&samples),
        jpeg_decoder::PixelFormat::L16 => {
            return Err(jpeg_corrupt(
                "12-bit JPEGs are not supported; save it with 8 bits per sample".into(),
            ))
        }
    })
}

/// A JPEG that cannot be decoded, and why.
fn jpeg_corrupt(reason: String) -> DecodeError {
    DecodeError::Corrupt {
        format: Format::Jpeg,
        reason,
    }
}

/// CMYK (as jpeg-decoder gives it: 0 is no ink, Adobe's inversion undone) to
/// RGB, with Pillow's formula and rounding: each of C, M, Y scaled by the
/// paper K leaves.
fn cmyk_to_rgb(cmyk: &[u8]) -> Vec<u8> {
    let mul_div_255 = |a: u32, b: u32| {
        let t = a * b + 128;
        ((t >> 8) + t) >> 8
    };
    cmyk.chunks_exact(4)
        .flat_map(|p| {
            let paper = 255 - u32::from(p[3]);
            [0, 1, 2].map(|c| (paper - mul_div_255(u32::from(p[c]), paper)) as u8)
        })
        .collect()
}

/// A JPEG frame header's layout (SOFn).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct JpegFrame {
    /// Progressive (SOF2, 6, 10, 14): every coefficient of the image is held
    /// until the last scan, whatever the scale it is decoded at.
    pub(super) progressive: bool,
    /// Each component's horizontal and vertical sampling factors.
    pub(super) sampling: Vec<(u32, u32)>,
}

/// Walks a JPEG's segments from its start marker to its end marker (EOI):
/// the size from the first frame header (SOFn), and a problem if the bytes
/// run out before EOI. Bytes after EOI (some cameras append data) are fine.
pub(super) fn jpeg_header(bytes: &[u8]) -> Header {
    let mut dimensions = None;
    let mut frame = None;
    let problem = walk_jpeg(bytes, |code, segment| {
        // SOF0-SOF15 but DHT (C4), JPG (C8) and DAC (CC): precision, height,
        // width, then each component's id, sampling factors and table.
        let is_frame = matches!(code, 0xC0..=0xCF) && !matches!(code, 0xC4 | 0xC8 | 0xCC);
        if is_frame && dimensions.is_none() && segment.len() >= 5 {
            let height = u16::from_be_bytes([segment[1], segment[2]]);
            let width = u16::from_be_bytes([segment[3], segment[4]]);
            dimensions = Some((u32::from(width), u32::from(height)));
            let sampling = segment
                .get(6..)
                .unwrap_or_default()
                .chunks_exact(3)
                .take(usize::from(segment.get(5).copied().unwrap_or(0)))
                .map(|c| (u32::from(c[1] >> 4), u32::from(c[1] & 15)))
                .collect();
            frame = Some(JpegFrame {
                progressive: matches!(code, 0xC2 | 0xC6 | 0xCA | 0xCE),
                sampling,
            });
        }
    })
    .err();
    Header {
        dimensions,
        problem,
        frame,
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
