//! PNG: the size from its IHDR chunk, and the decode with the png crate,
//! its rows resized as they arrive when they come in order.

use super::exif::exif_orientation;
use super::{DecodeError, Format, Header, RgbImage, Stored};
use std::io::Cursor;

/// PNG (any bit depth and colour type, interlaced or not; an animated PNG's
/// default image) to RGB8. Alpha is dropped: the model sees colours only.
pub(super) fn decode_png(
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

/// A PNG's size from its first chunk, IHDR (at a fixed offset).
pub(super) fn png_header(bytes: &[u8]) -> Header {
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
