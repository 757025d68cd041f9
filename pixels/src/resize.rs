//! Pillow's `Image.resize(..., BILINEAR)` for RGB8, in Pillow's own fixed
//! point: a separable triangle filter widened by the downscale factor, the
//! horizontal pass then the vertical, each rounded to 8 bits, so the result
//! is Pillow's bit for bit.

/// Fractional bits of the fixed-point filter weights: Pillow's own choice
/// for 8-bit images (a weight of 1.0 is `1 << 22`), which leaves room for
/// 255 times the sum of the weights, and for the rounding term, in an `i32`.
const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Filter taps of one output sample along one axis.
struct Taps {
    first: usize,
    weights: Vec<i32>,
}

/// Pillow's bilinear coefficients for resampling `src` samples to `dst`,
/// computed in `f64`, normalised, then rounded to fixed point as Pillow does.
fn taps(src: usize, dst: usize) -> Vec<Taps> {
    let scale = src as f64 / dst as f64;
    let filter_scale = scale.max(1.0);
    let support = filter_scale; // the triangle filter has support 1
    let inv_filter_scale = 1.0 / filter_scale;
    (0..dst)
        .map(|i| {
            let center = (i as f64 + 0.5) * scale;
            let first = ((center - support + 0.5) as isize).max(0) as usize;
            let last = ((center + support + 0.5) as usize).min(src);
            let weights: Vec<f64> = (first..last)
                .map(|x| {
                    let t = ((x as f64 - center + 0.5) * inv_filter_scale).abs();
                    (1.0 - t).max(0.0)
                })
                .collect();
            let sum: f64 = weights.iter().sum();
            let norm = if sum > 0.0 { 1.0 / sum } else { 1.0 };
            let one = f64::from(1u32 << PRECISION_BITS);
            let weights = weights
                .iter()
                .map(|w| (w * norm * one).round() as i32)
                .collect();
            Taps { first, weights }
        })
        .collect()
}

/// The rounding term every accumulator starts from.
const HALF: i32 = 1 << (PRECISION_BITS - 1);

/// A fixed-point sum back to an 8-bit sample, saturating.
fn clip8(acc: i32) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

/// The resize of an RGB8 image: horizontal pass, then vertical, 8-bit in
/// between (Pillow's order and rounding, so the result matches it exactly),
/// fed one source row at a time, as a decoder gives them: each row's horizontal pass runs as it arrives, so only the narrower
/// rows are held, never the source image.
pub struct RowResizer {
    sw: usize,
    dw: usize,
    sh: usize,
    dh: usize,
    /// The horizontal pass's taps; `None` when the width stays.
    taps: Option<Vec<Taps>>,
    /// The horizontally resized rows so far, `dw * 3` bytes each.
    horizontal: Vec<u8>,
}

impl RowResizer {
    /// A resize of `sw` x `sh` to `dw` x `dh` (all at least 1).
    pub fn new(sw: usize, sh: usize, dw: usize, dh: usize) -> Self {
        RowResizer {
            sw,
            dw,
            sh,
            dh,
            taps: (dw != sw).then(|| taps(sw, dw)),
            horizontal: Vec::with_capacity(sh * dw * 3),
        }
    }

    /// The next source row, `sw * 3` bytes; a shorter row, and rows past
    /// the `sh`-th, are ignored.
    pub fn push_row(&mut self, row: &[u8]) {
        if self.horizontal.len() >= self.sh * self.dw * 3 || row.len() < self.sw * 3 {
            return;
        }
        match &self.taps {
            None => self.horizontal.extend_from_slice(&row[..self.dw * 3]),
            Some(taps) => {
                let start = self.horizontal.len();
                self.horizontal.resize(start + self.dw * 3, 0);
                resample_row(row, taps, &mut self.horizontal[start..]);
            }
        }
    }

    /// The vertical pass: `dw * dh * 3` bytes. Rows never pushed are black.
    pub fn finish(mut self) -> Vec<u8> {
        let row_len = self.dw * 3;
        self.horizontal.resize(self.sh * row_len, 0);
        if self.dh == self.sh {
            return self.horizontal;
        }
        let taps = taps(self.sh, self.dh);
        let mut out = vec![0u8; self.dh * row_len];
        let mut acc = vec![0i32; row_len];
        for (t, dst_row) in taps.iter().zip(out.chunks_exact_mut(row_len)) {
            acc.fill(HALF);
            let rows = self.horizontal[t.first * row_len..].chunks_exact(row_len);
            for (&w, src_row) in t.weights.iter().zip(rows) {
                accumulate(&mut acc, src_row, w);
            }
            for (d, &a) in dst_row.iter_mut().zip(acc.iter()) {
                *d = clip8(a);
            }
        }
        out
    }
}

/// One row of the horizontal pass: each output pixel is its taps' weighted
/// sum of input pixels, per channel.
fn resample_pixel(src_row: &[u8], t: &Taps, dst_px: &mut [u8]) {
    let window = &src_row[t.first * 3..][..t.weights.len() * 3];
    let mut acc = [HALF; 3];
    for (&w, px) in t.weights.iter().zip(window.chunks_exact(3)) {
        acc[0] += i32::from(px[0]) * w;
        acc[1] += i32::from(px[1]) * w;
        acc[2] += i32::from(px[2]) * w;
    }
    dst_px[0] = clip8(acc[0]);
    dst_px[1] = clip8(acc[1]);
    dst_px[2] = clip8(acc[2]);
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
fn resample_row(src_row: &[u8], taps: &[Taps], dst_row: &mut [u8]) {
    for (t, dst_px) in taps.iter().zip(dst_row.chunks_exact_mut(3)) {
        resample_pixel(src_row, t, dst_px);
    }
}

/// The same with WebAssembly SIMD: a pixel's three channels (and one byte
/// of the next pixel, weighted but dropped) in one vector per tap.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn resample_row(src_row: &[u8], taps: &[Taps], dst_row: &mut [u8]) {
    use core::arch::wasm32::*;
    for (t, dst_px) in taps.iter().zip(dst_row.chunks_exact_mut(3)) {
        let start = t.first * 3;
        // Each tap reads 4 bytes: the row's last pixel has no byte after it.
        if start + t.weights.len() * 3 + 1 > src_row.len() {
            resample_pixel(src_row, t, dst_px);
            continue;
        }
        let mut acc = i32x4_splat(HALF);
        for (k, &w) in t.weights.iter().enumerate() {
            // SAFETY: start + 3k + 4 <= start + 3 * len + 1 <= the row's
            // length (checked above); unaligned loads are allowed.
            let px = unsafe { v128_load32_zero(src_row.as_ptr().add(start + 3 * k) as *const u32) };
            let px = u32x4_extend_low_u16x8(u16x8_extend_low_u8x16(px));
            acc = i32x4_add(acc, i32x4_mul(px, i32x4_splat(w)));
        }
        // >> PRECISION_BITS, then saturate to 0..=255 as `clip8` does.
        let v = i32x4_shr(acc, PRECISION_BITS);
        let v = i16x8_narrow_i32x4(v, v);
        let v = u8x16_narrow_i16x8(v, v);
        let rgb = u32x4_extract_lane::<0>(v).to_le_bytes();
        dst_px.copy_from_slice(&rgb[..3]);
    }
}

/// `acc[i] += w * row[i]`: the vertical pass's inner loop, over a whole row.
fn accumulate_scalar(acc: &mut [i32], row: &[u8], w: i32) {
    for (a, &s) in acc.iter_mut().zip(row) {
        *a += i32::from(s) * w;
    }
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
use accumulate_scalar as accumulate;

/// `acc[i] += w * row[i]` with WebAssembly SIMD, 16 samples a step: the
/// component is built at `opt-level = "s"`, which does not vectorise loops.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn accumulate(acc: &mut [i32], row: &[u8], w: i32) {
    use core::arch::wasm32::*;
    let n = acc.len().min(row.len());
    let whole = n - n % 16;
    let weight = i32x4_splat(w);
    for (a, s) in acc[..whole]
        .chunks_exact_mut(16)
        .zip(row[..whole].chunks_exact(16))
    {
        // SAFETY: `s` holds 16 bytes and `a` 16 i32s (chunks_exact), and
        // v128 loads and stores have no alignment requirement.
        unsafe {
            let bytes = v128_load(s.as_ptr() as *const v128);
            let (lo, hi) = (
                u16x8_extend_low_u8x16(bytes),
                u16x8_extend_high_u8x16(bytes),
            );
            let parts = [
                u32x4_extend_low_u16x8(lo),
                u32x4_extend_high_u16x8(lo),
                u32x4_extend_low_u16x8(hi),
                u32x4_extend_high_u16x8(hi),
            ];
            for (k, part) in parts.into_iter().enumerate() {
                let p = a.as_mut_ptr().add(4 * k) as *mut v128;
                v128_store(p, i32x4_add(v128_load(p), i32x4_mul(part, weight)));
            }
        }
    }
    accumulate_scalar(&mut acc[whole..n], &row[whole..n], w);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resize_rgb(src: &[u8], from: (usize, usize), to: (usize, usize)) -> Vec<u8> {
        crate::resize_rgb(crate::Filter::Pillow, src, from, to)
    }

    #[test]
    fn taps_are_normalised_and_widen_when_downscaling() {
        let one = 1i64 << PRECISION_BITS;
        for t in taps(4000, 416) {
            let sum: i64 = t.weights.iter().map(|&w| i64::from(w)).sum();
            assert!((sum - one).abs() <= t.weights.len() as i64, "{sum}");
            let interior = t.first > 0 && t.first + t.weights.len() < 4000;
            assert!(!interior || t.weights.len() >= 18, "{}", t.weights.len());
        }
        // Upscaling interpolates between at most two neighbours.
        for t in taps(10, 416) {
            assert!(t.weights.iter().filter(|&&w| w > 0).count() <= 2);
        }
    }

    #[test]
    fn the_row_pass_is_the_per_pixel_sum() {
        // In wasm this compares the SIMD row pass with the plain one.
        let mut seed = 7u32;
        let row: Vec<u8> = (0..641 * 3)
            .map(|_| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                (seed >> 16) as u8
            })
            .collect();
        for dw in [1, 100, 416, 640, 1000] {
            let taps = taps(641, dw);
            let mut fast = vec![0u8; dw * 3];
            resample_row(&row, &taps, &mut fast);
            let mut plain = vec![0u8; dw * 3];
            for (t, px) in taps.iter().zip(plain.chunks_exact_mut(3)) {
                resample_pixel(&row, t, px);
            }
            assert_eq!(fast, plain, "{dw}");
        }
    }

    #[test]
    fn a_uniform_image_stays_uniform_at_any_size() {
        let src = vec![77u8; 640 * 480 * 3];
        for (dw, dh) in [(416, 312), (640, 480), (1000, 750), (1, 1)] {
            let out = resize_rgb(&src, (640, 480), (dw, dh));
            assert_eq!(out.len(), dw * dh * 3);
            assert!(out.iter().all(|&v| v == 77), "{dw}x{dh}");
        }
    }
}
