//! From decoded RGB pixels to the model's input tensor: letterbox to a square,
//! then BGR planes normalised by the model's mean and standard deviation.
//!
//! The resize is Pillow's `Image.resize(..., BILINEAR)` in its fixed point
//! (`pixels::resize`), so the tensor is the one the model's reference
//! pipeline makes, bit for bit.

use crate::decode::RgbImage;
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

/// The letterbox of a decoded image: resized to fit the model's input
/// unless the decoder already did (`RgbImage::is_resized`), placed so that
/// boxes map back to the photo's pixels.
pub fn letterbox_image(image: RgbImage) -> (Vec<u8>, Letterbox) {
    if image.is_resized() {
        let lb = Letterbox::fit(image.photo_width, image.photo_height);
        debug_assert_eq!(lb.inner_size(), (image.width, image.height));
        return (image.pixels, lb);
    }
    let (resized, lb) = letterbox_resize(&image.pixels, image.width, image.height);
    let lb = lb.of_photo(image.reduction, image.photo_width, image.photo_height);
    (resized, lb)
}

/// The first step of [`to_input_tensor`]: the image resized to fit the
/// model's input, as `inner_width * inner_height * 3` RGB8 bytes.
pub fn letterbox_resize(rgb: &[u8], width: u32, height: u32) -> (Vec<u8>, Letterbox) {
    let lb = Letterbox::fit(width, height);
    debug_assert_eq!(rgb.len(), width as usize * height as usize * 3);
    let resized = pixels::resize::resize_rgb(
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
    let mut tensor = vec![0f32; 3 * INPUT_SIZE * INPUT_SIZE];
    // Tensor plane c holds BGR channel c, which is RGB channel 2 - c; the
    // padding is black, pixel value 0 after normalisation.
    let planes = [0, 1, 2].map(|c| pixels::planes::Plane {
        channel: 2 - c,
        mean: MEAN_BGR[c],
        scale: 1.0 / STD_BGR[c],
    });
    pixels::planes::to_planes(
        resized,
        lb.inner_width as usize,
        lb.inner_height as usize,
        INPUT_SIZE,
        (lb.pad_x as usize, lb.pad_y as usize),
        &planes,
        &mut tensor,
    );
    tensor
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
}
