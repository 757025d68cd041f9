//! TensorFlow's `ResizeBilinear` with `align_corners` and
//! `half_pixel_centers` false (TF's legacy bilinear, which TF.js's CPU
//! backend computes the same way) for RGB8: output pixel (x, y) samples the
//! source at (x * sw / dw, y * sh / dh) between its four neighbours, with no
//! antialiasing however large the reduction. It is the resize inside the
//! TF Object Detection API's exported graphs (coco-ssd among them), so a
//! model trained and served with it sees the same pixels here.
//!
//! TF keeps the result in float; here it is rounded to the nearest 8-bit
//! value, as the rest of the pipeline takes bytes (at most 0.5 of 255 off).

/// Where output sample `i` of `dst` reads from `src`: the lower neighbour,
/// the upper one (clamped to the edge) and the upper one's weight, as TF
/// computes them (`scale = src / dst`, `in = i * scale`).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Sample {
    lower: usize,
    upper: usize,
    frac: f32,
}

fn samples(src: usize, dst: usize) -> Vec<Sample> {
    let scale = src as f64 / dst as f64; // TF.js computes it in doubles
    (0..dst)
        .map(|i| {
            let at = i as f64 * scale;
            let lower = (at.floor() as usize).min(src - 1);
            Sample {
                lower,
                upper: (at.ceil() as usize).min(src - 1),
                frac: (at - lower as f64) as f32,
            }
        })
        .collect()
}

fn round8(v: f32) -> u8 {
    (v + 0.5).clamp(0.0, 255.0) as u8
}

/// One source row's horizontal interpolation, in float, `dw * 3` values.
fn horizontal(row: &[u8], columns: &[Sample], out: &mut [f32]) {
    for (s, px) in columns.iter().zip(out.chunks_exact_mut(3)) {
        let (a, b) = (&row[s.lower * 3..][..3], &row[s.upper * 3..][..3]);
        for c in 0..3 {
            let (a, b) = (f32::from(a[c]), f32::from(b[c]));
            px[c] = a + (b - a) * s.frac;
        }
    }
}

/// The resize of an RGB8 image of `sw` x `sh` to `dw` x `dh` (all at least
/// 1), fed one source row at a time, as a decoder gives them: an output row needs two neighbouring source rows, so only the last two
/// (interpolated across) are held, never the source image.
pub struct RowResizer {
    sw: usize,
    sh: usize,
    columns: Vec<Sample>,
    rows: Vec<Sample>,
    /// Source rows pushed so far.
    pushed: usize,
    /// The horizontally interpolated previous and current source rows.
    previous: Vec<f32>,
    current: Vec<f32>,
    out: Vec<u8>,
}

impl RowResizer {
    pub fn new(sw: usize, sh: usize, dw: usize, dh: usize) -> Self {
        RowResizer {
            sw,
            sh,
            columns: samples(sw, dw),
            rows: samples(sh, dh),
            pushed: 0,
            previous: vec![0.0; dw * 3],
            current: vec![0.0; dw * 3],
            out: Vec::with_capacity(dw * dh * 3),
        }
    }

    fn emitted(&self) -> usize {
        self.out.len() / (self.columns.len() * 3)
    }

    /// The next source row, `sw * 3` bytes; a shorter row, and rows past
    /// the source's height, are ignored.
    pub fn push_row(&mut self, row: &[u8]) {
        if row.len() < self.sw * 3 || self.pushed >= self.sh {
            return;
        }
        std::mem::swap(&mut self.previous, &mut self.current);
        horizontal(row, &self.columns, &mut self.current);
        let index = self.pushed;
        self.pushed += 1;
        // Every output row whose upper neighbour is this row.
        while let Some(s) = self.rows.get(self.emitted()).copied() {
            if s.upper != index {
                break;
            }
            let lower = if s.lower == index {
                &self.current
            } else {
                &self.previous
            };
            for (a, b) in lower.iter().zip(&self.current) {
                self.out.push(round8(a + (b - a) * s.frac));
            }
        }
    }

    /// The resized image: `dw * dh * 3` bytes. Rows never pushed are black.
    pub fn finish(mut self) -> Vec<u8> {
        self.out.resize(self.rows.len() * self.columns.len() * 3, 0);
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resize_rgb(src: &[u8], from: (usize, usize), to: (usize, usize)) -> Vec<u8> {
        crate::resize_rgb(crate::Filter::TensorFlow, src, from, to)
    }

    /// TF's formula for one channel, straight from its definition, in f64.
    fn reference(src: &[u8], sw: usize, sh: usize, dw: usize, dh: usize) -> Vec<f64> {
        let at = |x: usize, y: usize, c: usize| f64::from(src[(y * sw + x) * 3 + c]);
        let mut out = Vec::new();
        for y in 0..dh {
            let fy = y as f64 * sh as f64 / dh as f64;
            let (y0, y1) = (fy.floor() as usize, (fy.ceil() as usize).min(sh - 1));
            for x in 0..dw {
                let fx = x as f64 * sw as f64 / dw as f64;
                let (x0, x1) = (fx.floor() as usize, (fx.ceil() as usize).min(sw - 1));
                for c in 0..3 {
                    let top = at(x0, y0, c) + (at(x1, y0, c) - at(x0, y0, c)) * (fx - x0 as f64);
                    let bottom = at(x0, y1, c) + (at(x1, y1, c) - at(x0, y1, c)) * (fx - x0 as f64);
                    out.push(top + (bottom - top) * (fy - y0 as f64));
                }
            }
        }
        out
    }

    fn noise(len: usize) -> Vec<u8> {
        let mut state = 0x2545_f491_u32;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state as u8
            })
            .collect()
    }

    #[test]
    fn matches_tensorflows_formula_within_rounding() {
        for &(sw, sh, dw, dh) in &[
            (741, 500, 300, 300),
            (300, 300, 300, 300),
            (64, 48, 300, 300),
            (1, 1, 3, 2),
            (500, 7, 300, 300),
        ] {
            let src = noise(sw * sh * 3);
            let got = resize_rgb(&src, (sw, sh), (dw, dh));
            let want = reference(&src, sw, sh, dw, dh);
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                assert!(
                    (f64::from(*g) - w).abs() <= 0.51,
                    "{sw}x{sh}->{dw}x{dh}: {g} vs {w}"
                );
            }
        }
    }

    #[test]
    fn the_same_size_is_the_same_pixels() {
        let src = noise(30 * 20 * 3);
        assert_eq!(resize_rgb(&src, (30, 20), (30, 20)), src);
    }

    #[test]
    fn rows_never_pushed_are_black() {
        let mut r = RowResizer::new(4, 4, 2, 2);
        r.push_row(&[9; 12]);
        assert_eq!(r.finish(), [9, 9, 9, 9, 9, 9, 0, 0, 0, 0, 0, 0]);
    }
}
