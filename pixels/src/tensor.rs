//! An RGB8 image into a square float tensor: each value one channel of a
//! pixel, normalised, and the rest of the square the padding colour. Models
//! take their channels either as planes (NCHW: a whole image of red, then
//! of green...) or interleaved (NHWC: the channels of one pixel together).

/// One channel of the tensor: the RGB channel it takes (0 red, 1 green,
/// 2 blue), that channel's value in the padding, and its normalisation,
/// `(value - mean) * scale`.
#[derive(Debug, Clone, Copy)]
pub struct Channel {
    pub source: usize,
    pub fill: u8,
    pub mean: f32,
    pub scale: f32,
}

impl Channel {
    #[inline]
    fn normalise(&self, value: u8) -> f32 {
        (f32::from(value) - self.mean) * self.scale
    }
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
    out: &mut [f32],
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
        values.fill(channel.normalise(channel.fill));
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
            *da = a.normalise(px[a.source]);
            *db = b.normalise(px[b.source]);
            *dc = c.normalise(px[c.source]);
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
    out: &mut [f32],
) {
    let (x0, y0) = at;
    let columns = width.min(side.saturating_sub(x0));
    let padding = channels.map(|c| c.normalise(c.fill));
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
                *value = channel.normalise(px[channel.source]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blue with black padding as it is, then red normalised with grey (10)
    /// padding; green, as it is, for the interleaved test.
    const CHANNELS: [Channel; 3] = [
        Channel {
            source: 2,
            fill: 0,
            mean: 0.0,
            scale: 1.0,
        },
        Channel {
            source: 0,
            fill: 10,
            mean: 10.0,
            scale: 0.5,
        },
        Channel {
            source: 1,
            fill: 114,
            mean: 0.0,
            scale: 1.0,
        },
    ];

    #[test]
    fn places_normalises_and_pads_planes() {
        // A 2x1 image (red, blue) at (1, 1) of a 3x3 square, planes B, R, G.
        let rgb = [255, 0, 0, 0, 7, 255];
        let mut out = vec![7.0; 27];
        to_planes(&rgb, 2, 1, 3, (1, 1), &CHANNELS, &mut out);
        assert_eq!(&out[..9], &[0.0, 0.0, 0.0, 0.0, 0.0, 255.0, 0.0, 0.0, 0.0]);
        assert_eq!(
            &out[9..18],
            &[0.0, 0.0, 0.0, 0.0, 122.5, -5.0, 0.0, 0.0, 0.0]
        );
        let pad = 114.0;
        assert_eq!(&out[18..], &[pad, pad, pad, pad, 0.0, 7.0, pad, pad, pad]);
        // Too short an output is left alone.
        let mut short = vec![7.0; 26];
        to_planes(&rgb, 2, 1, 3, (1, 1), &CHANNELS, &mut short);
        assert!(short.iter().all(|&v| v == 7.0));
    }

    #[test]
    fn places_normalises_and_pads_interleaved() {
        // The same image in a 3x3 square of (B, R, G) pixels.
        let rgb = [255, 0, 0, 0, 7, 255];
        let mut out = vec![7.0; 27];
        to_interleaved(&rgb, 2, 1, 3, (1, 1), &CHANNELS, &mut out);
        let pad = [0.0, 0.0, 114.0];
        let want: Vec<f32> = [pad, pad, pad, pad, [0.0, 122.5, 0.0], [255.0, -5.0, 7.0]]
            .into_iter()
            .chain([pad; 3])
            .flatten()
            .collect();
        assert_eq!(out, want);
    }

    #[test]
    fn what_does_not_fit_is_left_out() {
        let rgb = [9u8; 4 * 3];
        let mut planes = vec![0.0; 3 * 4];
        to_planes(&rgb, 4, 1, 2, (1, 0), &CHANNELS, &mut planes);
        assert_eq!(&planes[..4], [0.0, 9.0, 0.0, 0.0]);
        let mut pixels = vec![0.0; 2 * 2 * 3];
        to_interleaved(&rgb, 4, 1, 2, (1, 0), &CHANNELS, &mut pixels);
        assert_eq!(&pixels[3..6], &[9.0, -0.5, 9.0]);
    }
}
