//! An RGB8 image into a square tensor: each value one channel of a pixel,
//! and the rest of the square the padding colour. Models take their
//! channels either as planes (NCHW: a whole image of red, then of green...)
//! or interleaved (NHWC: the channels of one pixel together).
//!
//! The tensor is placed as uint8, the pixels as they are, which is what a
//! model that normalises in its graph takes; a float32 model's tensor is
//! that one normalised in a second pass ([`normalise`]). One placement for
//! both keeps the component within its size target: the same loops for f32
//! values too cost a kilobyte more.

/// One channel of the tensor: the RGB channel it takes (0 red, 1 green,
/// 2 blue), and that channel's value in the padding.
#[derive(Debug, Clone, Copy)]
pub struct Channel {
    pub source: usize,
    pub fill: u8,
}

/// Writes `rgb` (`width` x `height`, 3 bytes a pixel) into `out` as planes:
/// one `side` x `side` plane per entry of `channels`, the image's top-left
/// corner at `at` (x, y); the rest of each plane is the channel's padding.
/// What does not fit in the square is left out; `out` holds the three
/// planes (or nothing is written).
///
/// One pass over the pixels writes all three planes: each pixel is read
/// once, and the loop does not depend on the side being known when the
/// code is compiled.
pub fn to_planes(
    rgb: &[u8],
    width: usize,
    height: usize,
    side: usize,
    at: (usize, usize),
    channels: &[Channel; 3],
    out: &mut [u8],
) {
    let plane = side * side;
    let Some(out) = out.get_mut(..3 * plane) else {
        return;
    };
    let (first, rest) = out.split_at_mut(plane);
    let (second, third) = rest.split_at_mut(plane);
    for (values, channel) in [&mut *first, &mut *second, &mut *third]
        .into_iter()
        .zip(channels)
    {
        values.fill(channel.fill);
    }
    let (x0, y0) = at;
    let columns = width.min(side.saturating_sub(x0));
    if columns == 0 {
        return;
    }
    let [a, b, c] = channels;
    let rows = rgb
        .chunks_exact(width * 3)
        .take(height)
        .zip(first.chunks_exact_mut(side).skip(y0))
        .zip(second.chunks_exact_mut(side).skip(y0))
        .zip(third.chunks_exact_mut(side).skip(y0));
    for (((row, ra), rb), rc) in rows {
        let span = x0..x0 + columns;
        let dst = ra[span.clone()]
            .iter_mut()
            .zip(&mut rb[span.clone()])
            .zip(&mut rc[span]);
        for (((da, db), dc), px) in dst.zip(row.chunks_exact(3)) {
            *da = px[a.source];
            *db = px[b.source];
            *dc = px[c.source];
        }
    }
}

/// The same, interleaved: `side` x `side` pixels of three values each, in
/// the order of `channels`.
pub fn to_interleaved(
    rgb: &[u8],
    width: usize,
    height: usize,
    side: usize,
    at: (usize, usize),
    channels: &[Channel; 3],
    out: &mut [u8],
) {
    let (x0, y0) = at;
    let columns = width.min(side.saturating_sub(x0));
    let padding = channels.map(|c| c.fill);
    for pixel in out.chunks_exact_mut(3) {
        pixel.copy_from_slice(&padding);
    }
    if width == 0 {
        return;
    }
    let rows = rgb.chunks_exact(width * 3).take(height);
    for (row, dst) in rows.zip(out.chunks_exact_mut(side * 3).skip(y0)) {
        let dst = &mut dst[x0 * 3..(x0 + columns) * 3];
        for (d, px) in dst.chunks_exact_mut(3).zip(row.chunks_exact(3)) {
            for (value, channel) in d.iter_mut().zip(channels) {
                *value = px[channel.source];
            }
        }
    }
}

/// A channel's normalisation: `(value - mean) * scale`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Norm {
    pub mean: f32,
    pub scale: f32,
}

/// A uint8 tensor of three channels normalised into float32, each value by
/// its channel's [`Norm`]: as planes (`planar`: the first third of the
/// values channel 0...) or interleaved.
pub fn normalise(values: &[u8], planar: bool, norms: &[Norm; 3]) -> Vec<f32> {
    let mut out = vec![0f32; values.len()];
    // A plane at a time (its values one channel's), or a pixel at a time.
    let run = if planar { values.len() / 3 } else { 1 };
    let chunks = out.chunks_mut(run.max(1)).zip(values.chunks(run.max(1)));
    for ((out, values), n) in chunks.zip(norms.iter().cycle()) {
        for (o, v) in out.iter_mut().zip(values) {
            *o = (f32::from(*v) - n.mean) * n.scale;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blue with black padding, red with grey (10) padding, green with 114.
    const CHANNELS: [Channel; 3] = [
        Channel { source: 2, fill: 0 },
        Channel {
            source: 0,
            fill: 10,
        },
        Channel {
            source: 1,
            fill: 114,
        },
    ];

    #[test]
    fn places_and_pads_planes() {
        // A 2x1 image (red, blue) at (1, 1) of a 3x3 square, planes B, R, G.
        let rgb = [255, 0, 0, 0, 7, 255];
        let mut out = vec![7; 27];
        to_planes(&rgb, 2, 1, 3, (1, 1), &CHANNELS, &mut out);
        assert_eq!(&out[..9], &[0, 0, 0, 0, 0, 255, 0, 0, 0]);
        assert_eq!(&out[9..18], &[10, 10, 10, 10, 255, 0, 10, 10, 10]);
        let pad = 114;
        assert_eq!(&out[18..], &[pad, pad, pad, pad, 0, 7, pad, pad, pad]);
        // Too short an output is left alone.
        let mut short = vec![7; 26];
        to_planes(&rgb, 2, 1, 3, (1, 1), &CHANNELS, &mut short);
        assert!(short.iter().all(|&v| v == 7));
    }

    #[test]
    fn places_and_pads_interleaved() {
        // The same image in a 3x3 square of (B, R, G) pixels.
        let rgb = [255, 0, 0, 0, 7, 255];
        let mut out = vec![7; 27];
        to_interleaved(&rgb, 2, 1, 3, (1, 1), &CHANNELS, &mut out);
        let pad = [0, 10, 114];
        let want: Vec<u8> = [pad, pad, pad, pad, [0, 255, 0], [255, 0, 7]]
            .into_iter()
            .chain([pad; 3])
            .flatten()
            .collect();
        assert_eq!(out, want);
    }

    #[test]
    fn normalises_planes_and_pixels_by_their_channel() {
        let norms = [
            Norm {
                mean: 0.0,
                scale: 1.0,
            },
            Norm {
                mean: 10.0,
                scale: 0.5,
            },
            Norm {
                mean: 0.0,
                scale: 2.0,
            },
        ];
        assert_eq!(
            normalise(&[1, 2, 20, 30, 3, 4], true, &norms),
            [1.0, 2.0, 5.0, 10.0, 6.0, 8.0]
        );
        assert_eq!(
            normalise(&[1, 20, 3, 2, 30, 4], false, &norms),
            [1.0, 5.0, 6.0, 2.0, 10.0, 8.0]
        );
        assert!(normalise(&[], true, &norms).is_empty());
    }

    #[test]
    fn what_does_not_fit_is_left_out() {
        let rgb = [9u8; 4 * 3];
        let mut planes = vec![0; 3 * 4];
        to_planes(&rgb, 4, 1, 2, (1, 0), &CHANNELS, &mut planes);
        assert_eq!(&planes[..4], [0, 9, 0, 0]);
        let mut pixels = vec![0; 2 * 2 * 3];
        to_interleaved(&rgb, 4, 1, 2, (1, 0), &CHANNELS, &mut pixels);
        assert_eq!(&pixels[3..6], &[9, 9, 9]);
    }
}
