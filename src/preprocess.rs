//! From decoded RGB pixels to the model's input tensor: letterbox to a square,
//! then BGR planes normalised by the model's mean and standard deviation.
//!
//! The resize is the same separable, antialiased bilinear filter as Pillow's
//! `Image.resize(..., BILINEAR)` (a triangle filter widened by the downscale
//! factor, in Pillow's fixed point, rounded to 8 bits after each pass), so
//! the tensor is the one the model's reference pipeline makes, bit for bit.

use crate::model::{INPUT_SIZE, MEAN_BGR, STD_BGR};

/// How an image was placed in the square input: `input = image * scale + pad`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Letterbox {
    /// Size of the photo, in pixels: boxes are mapped back into it.
    pub width: u32,
    pub height: u32,
    /// Ratio of input pixels to photo pixels.
    pub scale: f32,
    /// Offset of the resized image inside the input square.
    pub pad_x: u32,
    pub pad_y: u32,
    /// Size of the resized image inside the input square.
    pub inner_width: u32,
    pub inner_height: u32,
}

impl Letterbox {
    /// The placement of a `width` x `height` image (both at least 1).
    pub fn fit(width: u32, height: u32) -> Self {
        let side = INPUT_SIZE as f64;
        let scale = (side / width as f64).min(side / height as f64);
        let inner = |len: u32| ((len as f64 * scale).round() as u32).clamp(1, INPUT_SIZE as u32);
        let (inner_width, inner_height) = (inner(width), inner(height));
        Letterbox {
            width,
            height,
            scale: scale as f32,
            pad_x: (INPUT_SIZE as u32 - inner_width) / 2,
            pad_y: (INPUT_SIZE as u32 - inner_height) / 2,
            inner_width,
            inner_height,
        }
    }

    /// The same placement of an image that was decoded at 1/`reduction` of
    /// a `width` x `height` photo, so boxes map back to the photo's pixels.
    /// (An image pixel spans `reduction` photo pixels, so the ratio of input
    /// to photo pixels is `reduction` times smaller.)
    pub fn of_photo(self, reduction: u32, width: u32, height: u32) -> Self {
        Letterbox {
            width,
            height,
            scale: self.scale / reduction as f32,
            ..self
        }
    }

    /// The size of the resized image inside the input square.
    pub fn inner_size(&self) -> (u32, u32) {
        (self.inner_width, self.inner_height)
    }

    /// Maps a point of the input square back to the image, clamped to it.
    pub fn to_image(&self, x: f32, y: f32) -> (f32, f32) {
        let ix = (x - self.pad_x as f32) / self.scale;
        let iy = (y - self.pad_y as f32) / self.scale;
        (
            ix.clamp(0.0, self.width as f32),
            iy.clamp(0.0, self.height as f32),
        )
    }
}

/// The smallest size of a `width` x `height` image that the letterbox uses:
/// the size it is resized to (what `decode::decode_stored` needs to know).
pub fn needed_size(width: u32, height: u32) -> (u32, u32) {
    Letterbox::fit(width, height).inner_size()
}

/// The input tensor (NCHW, `[1, 3, INPUT_SIZE, INPUT_SIZE]`, B, G, R planes)
/// of an RGB8 image given as `width * height * 3` bytes.
pub fn to_input_tensor(rgb: &[u8], width: u32, height: u32) -> (Vec<f32>, Letterbox) {
    let (resized, lb) = letterbox_resize(rgb, width, height);
    (to_tensor(&resized, &lb), lb)
}

/// The first step of [`to_input_tensor`]: the image resized to fit the
/// model's input, as `inner_width * inner_height * 3` RGB8 bytes.
pub fn letterbox_resize(rgb: &[u8], width: u32, height: u32) -> (Vec<u8>, Letterbox) {
    let lb = Letterbox::fit(width, height);
    debug_assert_eq!(rgb.len(), width as usize * height as usize * 3);
    let resized = resize_rgb(
        rgb,
        width as usize,
        height as usize,
        lb.inner_width as usize,
        lb.inner_height as usize,
    );
    (resized, lb)
}

/// The second step: the resized pixels normalised into the padded NCHW
/// tensor.
pub fn to_tensor(resized: &[u8], lb: &Letterbox) -> Vec<f32> {
    let plane = INPUT_SIZE * INPUT_SIZE;
    let mut tensor = vec![0f32; 3 * plane];
    // Tensor plane c holds BGR channel c, which is RGB channel 2 - c.
    for (c, chunk) in tensor.chunks_exact_mut(plane).enumerate() {
        let (mean, inv_std) = (MEAN_BGR[c], 1.0 / STD_BGR[c]);
        // The padding is black: pixel value 0 after normalisation.
        chunk.fill(-mean * inv_std);
        let rgb_channel = 2 - c;
        for y in 0..lb.inner_height as usize {
            let dst_row = (y + lb.pad_y as usize) * INPUT_SIZE + lb.pad_x as usize;
            let src_row =
                &resized[y * lb.inner_width as usize * 3..][..lb.inner_width as usize * 3];
            let dst = &mut chunk[dst_row..dst_row + lb.inner_width as usize];
            for (d, px) in dst.iter_mut().zip(src_row.chunks_exact(3)) {
                *d = (px[rgb_channel] as f32 - mean) * inv_std;
            }
        }
    }
    tensor
}

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

/// Resizes an RGB8 image: horizontal pass, then vertical, 8-bit in between
/// (Pillow's order and rounding, so the result matches it exactly).
fn resize_rgb(src: &[u8], sw: usize, sh: usize, dw: usize, dh: usize) -> Vec<u8> {
    let horizontal = if dw == sw {
        src.to_vec()
    } else {
        let taps = taps(sw, dw);
        let mut out = vec![0u8; sh * dw * 3];
        for (src_row, dst_row) in src.chunks_exact(sw * 3).zip(out.chunks_exact_mut(dw * 3)) {
            resample_row(src_row, &taps, dst_row);
        }
        out
    };
    if dh == sh {
        return horizontal;
    }
    let taps = taps(sh, dh);
    let row_len = dw * 3;
    let mut out = vec![0u8; dh * row_len];
    let mut acc = vec![0i32; row_len];
    for (t, dst_row) in taps.iter().zip(out.chunks_exact_mut(row_len)) {
        acc.fill(HALF);
        let rows = horizontal[t.first * row_len..].chunks_exact(row_len);
        for (&w, src_row) in t.weights.iter().zip(rows) {
            accumulate(&mut acc, src_row, w);
        }
        for (d, &a) in dst_row.iter_mut().zip(acc.iter()) {
            *d = clip8(a);
        }
    }
    out
}

/// One row of the horizontal pass: each output pixel is its taps' weighted
/// sum of input pixels, per channel.
fn resample_row(src_row: &[u8], taps: &[Taps], dst_row: &mut [u8]) {
    for (t, dst_px) in taps.iter().zip(dst_row.chunks_exact_mut(3)) {
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

    #[test]
    fn letterbox_matches_the_reference_placements() {
        // astronaut.png and chelsea.png, as in the shared vectors' index.
        let a = Letterbox::fit(512, 512);
        assert_eq!(
            (a.inner_width, a.inner_height, a.pad_x, a.pad_y),
            (416, 416, 0, 0)
        );
        assert!((a.scale - 0.8125).abs() < 1e-6);
        let c = Letterbox::fit(451, 300);
        assert_eq!(
            (c.inner_width, c.inner_height, c.pad_x, c.pad_y),
            (416, 277, 0, 69)
        );
        assert!((c.scale - 0.922_394_7).abs() < 1e-6);
    }

    #[test]
    fn extreme_aspect_ratios_keep_at_least_one_pixel() {
        let lb = Letterbox::fit(100_000, 1);
        assert_eq!((lb.inner_width, lb.inner_height), (416, 1));
        assert_eq!(lb.pad_y, 207);
        let (tensor, _) = to_input_tensor(&[255, 255, 255], 1, 1);
        assert_eq!(tensor.len(), 3 * 416 * 416);
        // The longest strips the decoder takes, one pixel across.
        let side = crate::decode::MAX_SIDE;
        let strip = vec![255; side as usize * 3];
        for (w, h) in [(side, 1), (1, side)] {
            let (tensor, lb) = to_input_tensor(&strip, w, h);
            assert_eq!(tensor.len(), 3 * 416 * 416);
            assert_eq!(lb.inner_width.min(lb.inner_height), 1, "{w}x{h}");
        }
    }

    #[test]
    fn to_image_undoes_the_letterbox_and_clamps() {
        let lb = Letterbox::fit(451, 300);
        let (x, y) = lb.to_image(208.0, 69.0 + 100.0 * lb.scale);
        assert!((x - 225.5).abs() < 0.1, "{x}");
        assert!((y - 100.0).abs() < 1e-3, "{y}");
        assert_eq!(lb.to_image(-5.0, 0.0), (0.0, 0.0));
        assert_eq!(lb.to_image(416.0, 416.0), (451.0, 300.0));
    }

    #[test]
    fn a_reduced_image_maps_back_to_the_photos_pixels() {
        // A 4001x3000 photo decoded at 1/8: 501x375 (the last block rounds up).
        let reduced = Letterbox::fit(501, 375);
        let photo = reduced.of_photo(8, 4001, 3000);
        assert_eq!(reduced.inner_size(), photo.inner_size());
        assert_eq!((photo.pad_x, photo.pad_y), (reduced.pad_x, reduced.pad_y));
        // Reduced pixel 250 is photo pixel 2000.
        let (x, y) = photo.to_image(250.0 * reduced.scale, photo.pad_y as f32);
        assert!((x - 2000.0).abs() < 0.01, "{x}");
        assert_eq!(y, 0.0);
        // The far corner clamps to the photo, not to 8 x 501.
        assert_eq!(photo.to_image(416.0, 416.0), (4001.0, 3000.0));
    }

    #[test]
    fn uniform_images_stay_uniform_and_padding_is_black() {
        let (w, h) = (300u32, 100u32);
        let rgb: Vec<u8> = std::iter::repeat_n([10u8, 20, 30], (w * h) as usize)
            .flatten()
            .collect();
        let (t, lb) = to_input_tensor(&rgb, w, h);
        let plane = INPUT_SIZE * INPUT_SIZE;
        let at = |c: usize, x: u32, y: u32| t[c * plane + y as usize * INPUT_SIZE + x as usize];
        let inside = (208, lb.pad_y + 10);
        // B, G, R planes from R=10, G=20, B=30.
        for (c, value) in [(0, 30.0), (1, 20.0), (2, 10.0)] {
            let want = (value - MEAN_BGR[c]) / STD_BGR[c];
            assert!((at(c, inside.0, inside.1) - want).abs() < 1e-5);
            let black = -MEAN_BGR[c] / STD_BGR[c];
            assert!((at(c, 0, 0) - black).abs() < 1e-6);
        }
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
}
