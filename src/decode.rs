//! From uploaded bytes to upright RGB8 pixels: check the bytes are the format
//! the client declared, refuse images over the pixel budget before decoding
//! them, decode, and apply the EXIF orientation so boxes are in the pixels of
//! the image as people see it.

use crate::memory::mib;
use std::fmt;
use std::io::Cursor;

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

/// The most a JPEG's decode holds at once, in bytes, decoded at 1/`reduction`
/// of its `width` x `height` (jpeg-decoder's buffers, `Decoder::decode`):
/// each component's plane at the decoded scale (whole 8x8 blocks of whole
/// MCUs) with a progressive image's coefficients at full scale (two bytes
/// each, 64 a block) and the interleaved output; then that output and its
/// conversion to RGB (greyscale, CMYK); then the RGB and its turned copy
/// when the EXIF orientation asks for one.
fn jpeg_memory(
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
fn decode_jpeg(
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

/// PNG (any bit depth and colour type, interlaced or not; an animated PNG's
/// default image) to RGB8. Alpha is dropped: the model sees colours only.
fn decode_png(
    bytes: &[u8],
    check: impl Fn(u32, u32) -> Result<(), DecodeError>,
    needed: impl Fn(u32, u32) -> (u32, u32),
    filter: pixels::Filter,
    reserve: impl FnOnce((u32, u32), u64, (u32, u32)) -> Result<(), DecodeError>,
) -> Result<Stored, DecodeError> {
    let corrupt = |e: png::DecodingError| DecodeError::Corrupt {
        format: Format::Png,
        reason: e.to_string(),
    };
    let mut decoder = png::Decoder::new(Cursor::new(bytes));
    // Palettes and low bit depths expanded, 16-bit samples cut to 8: the
    // decoder hands over 8-bit grey, grey + alpha, RGB or RGBA, never more
    // than 4 bytes a pixel.
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(corrupt)?;
    let (width, height) = (reader.info().width, reader.info().height);
    check(width, height)?;
    let orientation = reader
        .info()
        .exif_metadata
        .as_deref()
        .map_or(1, exif_orientation);
    // Row by row into the resize when the rows come in order (not Adam7
    // interlaced, not an animation's frames) and need no turning after.
    let info = reader.info();
    let streamed = !info.interlaced && info.animation_control.is_none() && orientation == 1;
    // The decoder's own buffers: a few raw rows (at most 8 bytes a pixel,
    // 16-bit RGBA) and the inflater's window and output.
    let (w, h) = (u64::from(width), u64::from(height));
    let rows = 4 * (w * 8 + 1) + (1 << 18);
    let channels = png_channels(reader.output_color_type().0)?;
    let (dw, dh) = needed(width, height);
    let (need, decoded) = if streamed {
        let resize = pixels::RowResizer::memory(
            filter,
            (width as usize, height as usize),
            (dw as usize, dh as usize),
        );
        (rows + w * 3 + resize as u64, (dw, dh))
    } else {
        // The whole image at its decoded depth, then RGB (in place from
        // RGBA), then turned.
        let rgb = if channels < 3 { w * h * 3 } else { 0 };
        let turn = if orientation == 1 { 0 } else { w * h * 3 };
        let decoded = pixels::orient::displayed_size(width, height, orientation);
        (rows + w * h * channels as u64 + rgb + turn, decoded)
    };
    reserve((width, height), need, decoded)?;
    if streamed {
        let mut resizer = pixels::RowResizer::new(
            filter,
            (width as usize, height as usize),
            (dw as usize, dh as usize),
        );
        let mut rgb = vec![0u8; width as usize * 3];
        while let Some(row) = reader.next_row().map_err(corrupt)? {
            if channels == 3 {
                resizer.push_row(row.data());
            } else {
                pixels::samples::to_rgb(channels, row.data(), &mut rgb);
                resizer.push_row(&rgb);
            }
        }
        let mut image = RgbImage::full(dw, dh, resizer.finish());
        (image.photo_width, image.photo_height) = (width, height);
        return Ok(Stored { image, orientation });
    }
    let size = reader
        .output_buffer_size()
        .ok_or(DecodeError::TooManyPixels { width, height })?;
    let mut pixels = vec![0u8; size];
    let frame = reader.next_frame(&mut pixels).map_err(corrupt)?;
    pixels.truncate(frame.buffer_size());
    let pixels = match png_channels(frame.color_type)? {
        3 => pixels,
        4 => {
            // In place: each pixel moves to an earlier or the same offset.
            for i in 0..pixels.len() / 4 {
                pixels.copy_within(i * 4..i * 4 + 3, i * 3);
            }
            pixels.truncate(pixels.len() / 4 * 3);
            pixels
        }
        channels => {
            let mut rgb = vec![0u8; pixels.len() / channels * 3];
            pixels::samples::to_rgb(channels, &pixels, &mut rgb);
            rgb
        }
    };
    Ok(Stored {
        image: RgbImage::full(width, height, pixels),
        orientation,
    })
}

/// Samples a pixel of the 8-bit colour types the PNG decoder hands over
/// (after EXPAND and STRIP_16).
fn png_channels(color: png::ColorType) -> Result<usize, DecodeError> {
    match color {
        png::ColorType::Grayscale => Ok(1),
        png::ColorType::GrayscaleAlpha => Ok(2),
        png::ColorType::Rgb => Ok(3),
        png::ColorType::Rgba => Ok(4),
        png::ColorType::Indexed => Err(DecodeError::Corrupt {
            format: Format::Png,
            reason: "a palette image was not expanded".into(),
        }),
    }
}

/// The Orientation tag (0x0112) of an EXIF block (a TIFF structure), 1 when
/// it is missing or unreadable.
fn exif_orientation(exif: &[u8]) -> u16 {
    // Some writers keep the "Exif\0\0" prefix of the JPEG segment.
    let tiff = exif.strip_prefix(b"Exif\0\0").unwrap_or(exif);
    let little = match tiff.get(..4) {
        Some([b'I', b'I', 42, 0]) => true,
        Some([b'M', b'M', 0, 42]) => false,
        _ => return 1,
    };
    let u16_at = |at: usize| {
        let b = tiff.get(at..at + 2)?;
        Some(if little {
            u16::from_le_bytes([b[0], b[1]])
        } else {
            u16::from_be_bytes([b[0], b[1]])
        })
    };
    let u32_at = |at: usize| {
        let b = tiff.get(at..at + 4)?;
        Some(if little {
            u32::from_le_bytes([b[0], b[1], b[2], b[3]])
        } else {
            u32::from_be_bytes([b[0], b[1], b[2], b[3]])
        })
    };
    let find = || -> Option<u16> {
        let ifd = u32_at(4)? as usize;
        let entries = u16_at(ifd)?;
        (0..usize::from(entries))
            .map(|k| ifd + 2 + 12 * k)
            .find(|&entry| u16_at(entry) == Some(0x0112))
            // Type SHORT (3), count 1: the value sits in the entry itself.
            .and_then(|entry| u16_at(entry + 8))
    };
    find().filter(|o| (1..=8).contains(o)).unwrap_or(1)
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

/// A JPEG frame header's layout (SOFn).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct JpegFrame {
    /// Progressive (SOF2, 6, 10, 14): every coefficient of the image is held
    /// until the last scan, whatever the scale it is decoded at.
    progressive: bool,
    /// Each component's horizontal and vertical sampling factors.
    sampling: Vec<(u32, u32)>,
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
        ..Header::default()
    }
}

/// Walks a JPEG's segments from its start marker to its end marker (EOI):
/// the size from the first frame header (SOFn), and a problem if the bytes
/// run out before EOI. Bytes after EOI (some cameras append data) are fine.
fn jpeg_header(bytes: &[u8]) -> Header {
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

/// The image as displayed, given how its EXIF Orientation tag says it is
/// stored (`pixels::orient`).
fn upright(image: RgbImage, orientation: u16) -> RgbImage {
    if !(2..=8).contains(&orientation) {
        return image;
    }
    let (pixels, out_w, out_h) = pixels::orient::upright(
        &image.pixels,
        image.width as usize,
        image.height as usize,
        orientation,
    );
    let turned = orientation >= 5;
    let (photo_width, photo_height) = if turned {
        (image.photo_height, image.photo_width)
    } else {
        (image.photo_width, image.photo_height)
    };
    RgbImage {
        width: out_w as u32,
        height: out_h as u32,
        pixels,
        reduction: image.reduction,
        photo_width,
        photo_height,
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
    fn upright_agrees_with_the_image_crate_for_all_eight_orientations() {
        use image::metadata::Orientation;
        let stored = image::RgbImage::from_fn(3, 2, |x, y| Rgb([x as u8, y as u8, 0]));
        let ours = RgbImage::full(3, 2, stored.as_raw().clone());
        for tag in 1..=8 {
            let mut want = image::DynamicImage::ImageRgb8(stored.clone());
            want.apply_orientation(Orientation::from_exif(tag as u8).unwrap());
            let want = want.into_rgb8();
            let got = upright(ours.clone(), tag);
            assert_eq!(
                (got.width, got.height, got.pixels),
                (want.width(), want.height(), want.into_raw()),
                "orientation {tag}"
            );
        }
    }

    #[test]
    fn exif_orientation_in_both_byte_orders_and_broken_blocks() {
        let entry = |little: bool| -> Vec<u8> {
            let mut t = if little {
                b"II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0\x06\0\0\0".to_vec()
            } else {
                b"MM\0*\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x06\0\0".to_vec()
            };
            t.extend_from_slice(&[0; 4]);
            t
        };
        assert_eq!(exif_orientation(&entry(true)), 6);
        assert_eq!(exif_orientation(&entry(false)), 6);
        let mut prefixed = b"Exif\0\0".to_vec();
        prefixed.extend(entry(false));
        assert_eq!(exif_orientation(&prefixed), 6);
        // Cut short, pointing past its end, or an impossible value: as stored.
        assert_eq!(exif_orientation(&entry(true)[..12]), 1);
        let mut far = entry(true);
        far[4] = 0xF0;
        assert_eq!(exif_orientation(&far), 1);
        let mut nine = entry(true);
        nine[18] = 9;
        assert_eq!(exif_orientation(&nine), 1);
        assert_eq!(exif_orientation(b""), 1);
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
