//! An RGB8 image into the planes of a square float tensor: each plane one
//! channel, normalised, the rest of the square black.

/// One plane of the tensor: the RGB channel it takes (0 red, 1 green,
/// 2 blue) and its normalisation, `(value - mean) * scale`.
#[derive(Debug, Clone, Copy)]
pub struct Plane {
    pub channel: usize,
    pub mean: f32,
    pub scale: f32,
}

/// Writes `rgb` (`width` x `height`, 3 bytes a pixel) into `out`: one
/// `side` x `side` plane per entry of `planes`, the image's top-left corner
/// at `at` (x, y); the rest of each plane is what black (0) normalises to.
/// What does not fit in the square, or in `out`, is left out.
pub fn to_planes(
    rgb: &[u8],
    width: usize,
    height: usize,
    side: usize,
    at: (usize, usize),
    planes: &[Plane],
    out: &mut [f32],
) {
    let (x0, y0) = at;
    let columns = width.min(side.saturating_sub(x0));
    for (plane, values) in planes.iter().zip(out.chunks_exact_mut(side * side)) {
        values.fill(-plane.mean * plane.scale);
        if width == 0 {
            continue;
        }
        let rows = rgb.chunks_exact(width * 3).take(height);
        for (row, dst) in rows.zip(values.chunks_exact_mut(side).skip(y0)) {
            let dst = &mut dst[x0..x0 + columns];
            for (d, px) in dst.iter_mut().zip(row.chunks_exact(3)) {
                *d = (f32::from(px[plane.channel]) - plane.mean) * plane.scale;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_normalises_and_pads() {
        // A 2x1 image (red, blue) at (1, 1) of a 3x3 square, planes B then R.
        let rgb = [255, 0, 0, 0, 0, 255];
        let planes = [
            Plane {
                channel: 2,
                mean: 0.0,
                scale: 1.0,
            },
            Plane {
                channel: 0,
                mean: 10.0,
                scale: 0.5,
            },
        ];
        let mut out = vec![7.0; 18];
        to_planes(&rgb, 2, 1, 3, (1, 1), &planes, &mut out);
        assert_eq!(&out[..9], &[0.0, 0.0, 0.0, 0.0, 0.0, 255.0, 0.0, 0.0, 0.0]);
        assert_eq!(
            &out[9..],
            &[-5.0, -5.0, -5.0, -5.0, 122.5, -5.0, -5.0, -5.0, -5.0]
        );
    }
}
