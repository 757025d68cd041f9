//! From decoded RGB pixels to a model's input tensor: fit to the model's
//! square (letterboxed, or the whole frame stretched), then its channels in
//! its order and layout, normalised by its mean and standard deviation (all
//! from its manifest).
//!
//! The resize is the one the model's own pipeline makes: Pillow's
//! `Image.resize(..., BILINEAR)` in its fixed point (`pixels::resize`), bit
//! for bit, or TensorFlow's `ResizeBilinear` (`pixels::tf_resize`).

use crate::decode::RgbImage;
use pixels::tensor::{Channel, Norm};

/// How a model takes its input, from its manifest's `input` and
/// `preprocess`: a square of `side` pixels, each value the pixel as it is
/// (uint8) or `(pixel - mean) / std` (float32).
#[derive(Debug, Clone, PartialEq)]
pub struct Preprocess {
    /// Side of the square input, in pixels.
    pub side: u32,
    pub fit: Fit,
    pub filter: Filter,
    pub layout: Layout,
    pub order: ChannelOrder,
    /// The padding's colour, R, G, B.
    pub fill: [u8; 3],
    /// The tensor's element type.
    pub dtype: Dtype,
    /// Per channel, in the model's channel order (float32 only).
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

/// The element type of a model's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    /// Each value `(pixel - mean) / std`.
    Float32,
    /// Each value the pixel as it is: the model normalises in its graph.
    Uint8,
}

/// A model's input tensor, of its manifest's type.
#[derive(Debug, Clone, PartialEq)]
pub enum InputTensor {
    F32(Vec<f32>),
    /// A quarter of a float32 tensor's bytes to build, copy and send.
    U8(Vec<u8>),
}

/// How the photo is fitted to the square input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// Resized with its aspect kept and centred, the rest `fill`.
    Letterbox,
    /// The whole frame resized to the square, each side by its own scale.
    Stretch,
}

pub use pixels::Filter;

/// Where the channels are in the tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `[1, 3, side, side]`: one plane per channel.
    Nchw,
    /// `[1, side, side, 3]`: the channels of each pixel together.
    Nhwc,
}

/// The order of the channels the model takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelOrder {
    Rgb,
    Bgr,
}

impl Preprocess {
    /// The shape of the input tensor.
    pub fn shape(&self) -> [u32; 4] {
        match self.layout {
            Layout::Nchw => [1, 3, self.side, self.side],
            Layout::Nhwc => [1, self.side, self.side, 3],
        }
    }

    /// Where a `width` x `height` image goes in the input square.
    pub fn place(&self, width: u32, height: u32) -> Placement {
        match self.fit {
            Fit::Letterbox => Placement::letterbox(width, height, self.side),
            Fit::Stretch => Placement::stretch(width, height, self.side),
        }
    }

    /// The smallest size of a `width` x `height` image that the input
    /// uses: the size it is resized to (what `decode::decode_stored` needs
    /// to know).
    pub fn needed_size(&self, width: u32, height: u32) -> (u32, u32) {
        self.place(width, height).inner_size()
    }

    /// The input tensor of an RGB8 image given as `width * height * 3` bytes.
    pub fn to_input_tensor(&self, rgb: &[u8], width: u32, height: u32) -> (InputTensor, Placement) {
        let lb = self.place(width, height);
        let resized = self.resize(rgb, width, height, &lb);
        (self.to_tensor(&resized, &lb), lb)
    }

    /// A decoded image fitted to the model's input: resized unless the
    /// decoder already did (`RgbImage::is_resized`), placed so that boxes
    /// map back to the photo's pixels.
    pub fn fit_image(&self, image: RgbImage) -> (Vec<u8>, Placement) {
        if image.is_resized() {
            let lb = self.place(image.photo_width, image.photo_height);
            debug_assert_eq!(lb.inner_size(), (image.width, image.height));
            return (image.pixels, lb);
        }
        let lb = self.place(image.width, image.height);
        let resized = self.resize(&image.pixels, image.width, image.height, &lb);
        let lb = lb.of_photo(image.reduction, image.photo_width, image.photo_height);
        (resized, lb)
    }

    /// The most the steps after decoding ([`Self::fit_image`],
    /// [`Self::to_tensor`]) hold at once besides the decoded image, in
    /// bytes, for an image decoded to `decoded` (width, height)
    /// (`decode::decode_within`'s reckoning).
    pub fn memory(&self, decoded: (u32, u32)) -> u64 {
        let size = |(w, h): (u32, u32)| (w as usize, h as usize);
        // A float32 tensor is the uint8 one normalised: both are held.
        let bytes = match self.dtype {
            Dtype::Float32 => 1 + 4,
            Dtype::Uint8 => 1,
        };
        let tensor = 3 * bytes * u64::from(self.side) * u64::from(self.side);
        let inner = self.needed_size(decoded.0, decoded.1);
        // A PNG's rows were resized as they were decoded.
        if decoded == inner {
            return tensor;
        }
        let resize = pixels::RowResizer::memory(self.filter, size(decoded), size(inner));
        resize as u64 + tensor
    }

    /// The image resized to the placement's inner size, with the model's filter.
    fn resize(&self, rgb: &[u8], width: u32, height: u32, lb: &Placement) -> Vec<u8> {
        debug_assert_eq!(rgb.len(), width as usize * height as usize * 3);
        let size = |n: u32| n as usize;
        pixels::resize_rgb(
            self.filter,
            rgb,
            (size(width), size(height)),
            (size(lb.inner_width), size(lb.inner_height)),
        )
    }

    /// The resized pixels into the padded tensor, normalised if float32
    /// (see `pixels::tensor` for why in a second pass).
    pub fn to_tensor(&self, resized: &[u8], lb: &Placement) -> InputTensor {
        let side = self.side as usize;
        let mut tensor = vec![0u8; 3 * side * side];
        // Tensor channel c is RGB channel c, or 2 - c in BGR order.
        let channels = [0, 1, 2].map(|c| {
            let source = match self.order {
                ChannelOrder::Rgb => c,
                ChannelOrder::Bgr => 2 - c,
            };
            Channel {
                source,
                fill: self.fill[source],
            }
        });
        let (width, height) = (lb.inner_width as usize, lb.inner_height as usize);
        let at = (lb.pad_x as usize, lb.pad_y as usize);
        let place = match self.layout {
            Layout::Nchw => pixels::tensor::to_planes,
            Layout::Nhwc => pixels::tensor::to_interleaved,
        };
        place(resized, width, height, side, at, &channels, &mut tensor);
        match self.dtype {
            Dtype::Uint8 => InputTensor::U8(tensor),
            Dtype::Float32 => {
                let norms = [0, 1, 2].map(|c| Norm {
                    mean: self.mean[c],
                    scale: 1.0 / self.std[c],
                });
                let planar = self.layout == Layout::Nchw;
                InputTensor::F32(pixels::tensor::normalise(&tensor, planar, &norms))
            }
        }
    }
}

/// How an image was placed in the square input: `input x = image x *
/// scale_x + pad_x`, and the same for y.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placement {
    /// Size of the photo, in pixels: boxes are mapped back into it.
    pub width: u32,
    pub height: u32,
    /// Side of the square input.
    pub side: u32,
    /// Ratio of input pixels to photo pixels, across and down (the same for
    /// a letterbox).
    pub scale_x: f32,
    pub scale_y: f32,
    /// Offset of the resized image inside the input square.
    pub pad_x: u32,
    pub pad_y: u32,
    /// Size of the resized image inside the input square.
    pub inner_width: u32,
    pub inner_height: u32,
}

impl Placement {
    /// The placement of a `width` x `height` image (both at least 1) in a
    /// square of `side` pixels: scale = min(side / width, side / height),
    /// each side resized to round(len * scale) (at least 1), centred with
    /// the odd pixel of padding after it.
    pub fn letterbox(width: u32, height: u32, side: u32) -> Self {
        let square = f64::from(side);
        let scale = (square / width as f64).min(square / height as f64);
        let inner = |len: u32| ((len as f64 * scale).round() as u32).clamp(1, side);
        let (inner_width, inner_height) = (inner(width), inner(height));
        Placement {
            width,
            height,
            side,
            scale_x: scale as f32,
            scale_y: scale as f32,
            pad_x: (side - inner_width) / 2,
            pad_y: (side - inner_height) / 2,
            inner_width,
            inner_height,
        }
    }

    /// The whole `width` x `height` image (both at least 1) resized to the
    /// square of `side` pixels: no padding, a scale per axis.
    pub fn stretch(width: u32, height: u32, side: u32) -> Self {
        Placement {
            width,
            height,
            side,
            scale_x: (f64::from(side) / f64::from(width)) as f32,
            scale_y: (f64::from(side) / f64::from(height)) as f32,
            pad_x: 0,
            pad_y: 0,
            inner_width: side,
            inner_height: side,
        }
    }

    /// The same placement of an image that was decoded at 1/`reduction` of
    /// a `width` x `height` photo, so boxes map back to the photo's pixels.
    /// (An image pixel spans `reduction` photo pixels, so the ratio of input
    /// to photo pixels is `reduction` times smaller.)
    pub fn of_photo(self, reduction: u32, width: u32, height: u32) -> Self {
        Placement {
            width,
            height,
            scale_x: self.scale_x / reduction as f32,
            scale_y: self.scale_y / reduction as f32,
            ..self
        }
    }

    /// The size of the resized image inside the input square.
    pub fn inner_size(&self) -> (u32, u32) {
        (self.inner_width, self.inner_height)
    }

    /// Maps a point of the input square back to the image, clamped to it.
    pub fn to_image(&self, x: f32, y: f32) -> (f32, f32) {
        let ix = (x - self.pad_x as f32) / self.scale_x;
        let iy = (y - self.pad_y as f32) / self.scale_y;
        (
            ix.clamp(0.0, self.width as f32),
            iy.clamp(0.0, self.height as f32),
        )
    }
}

/// The image resized to fit a square of `side` pixels with Pillow's
/// bilinear, as `inner_width * inner_height * 3` RGB8 bytes: the letterbox
/// of [`Preprocess::to_input_tensor`].
pub fn letterbox_resize(rgb: &[u8], width: u32, height: u32, side: u32) -> (Vec<u8>, Placement) {
    let lb = Placement::letterbox(width, height, side);
    let resized = pixels::resize_rgb(
        Filter::Pillow,
        rgb,
        (width as usize, height as usize),
        (lb.inner_width as usize, lb.inner_height as usize),
    );
    (resized, lb)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// NanoDet's: 416, NCHW, BGR, normalised by ImageNet's statistics.
    pub(crate) fn nanodet() -> Preprocess {
        Preprocess {
            side: 416,
            fit: Fit::Letterbox,
            filter: Filter::Pillow,
            layout: Layout::Nchw,
            order: ChannelOrder::Bgr,
            fill: [0, 0, 0],
            dtype: Dtype::Float32,
            mean: [103.53, 116.28, 123.675],
            std: [57.375, 57.12, 58.395],
        }
    }

    /// CenterNet's: 512, NHWC, RGB, the pixel values as they are.
    pub(crate) fn centernet() -> Preprocess {
        Preprocess {
            side: 512,
            fit: Fit::Letterbox,
            filter: Filter::Pillow,
            layout: Layout::Nhwc,
            order: ChannelOrder::Rgb,
            fill: [0, 0, 0],
            dtype: Dtype::Float32,
            mean: [0.0; 3],
            std: [1.0; 3],
        }
    }

    fn floats(tensor: InputTensor) -> Vec<f32> {
        match tensor {
            InputTensor::F32(values) => values,
            InputTensor::U8(_) => panic!("a float32 tensor was expected"),
        }
    }

    #[test]
    fn a_uint8_tensor_is_the_pixels_as_they_are() {
        let p = Preprocess {
            dtype: Dtype::Uint8,
            ..nanodet()
        };
        let rgb: Vec<u8> = std::iter::repeat_n([10u8, 20, 30], 300 * 100)
            .flatten()
            .collect();
        let (t, lb) = p.to_input_tensor(&rgb, 300, 100);
        let InputTensor::U8(t) = t else {
            panic!("a uint8 tensor was expected")
        };
        let plane = 416 * 416;
        let inside = (lb.pad_y as usize + 10) * 416 + 208;
        // B, G, R planes; black padding.
        assert_eq!(
            [t[inside], t[plane + inside], t[2 * plane + inside]],
            [30, 20, 10]
        );
        assert_eq!([t[0], t[plane], t[2 * plane]], [0, 0, 0]);
        let floats_too = 4 * 3 * 416 * 416;
        assert_eq!(
            p.memory((300, 100)) + floats_too,
            nanodet().memory((300, 100))
        );
    }

    #[test]
    fn letterbox_matches_the_reference_placements() {
        // astronaut.png and chelsea.png, as in the shared vectors' index.
        let a = Placement::letterbox(512, 512, 416);
        assert_eq!(
            (a.inner_width, a.inner_height, a.pad_x, a.pad_y),
            (416, 416, 0, 0)
        );
        assert!((a.scale_x - 0.8125).abs() < 1e-6);
        let c = Placement::letterbox(451, 300, 416);
        assert_eq!(
            (c.inner_width, c.inner_height, c.pad_x, c.pad_y),
            (416, 277, 0, 69)
        );
        assert!((c.scale_y - 0.922_394_7).abs() < 1e-6);
        // CenterNet's rule is the same at 512: round(300 * 512 / 451) =
        // round(340.58) = 341, pad (512 - 341) // 2 = 85.
        let c = Placement::letterbox(451, 300, 512);
        assert_eq!(
            (c.inner_width, c.inner_height, c.pad_x, c.pad_y),
            (512, 341, 0, 85)
        );
        let odd = Placement::letterbox(300, 451, 512);
        assert_eq!((odd.inner_width, odd.pad_x), (341, 85));
    }

    #[test]
    fn extreme_aspect_ratios_keep_at_least_one_pixel() {
        let lb = Placement::letterbox(100_000, 1, 416);
        assert_eq!((lb.inner_width, lb.inner_height), (416, 1));
        assert_eq!(lb.pad_y, 207);
        for p in [nanodet(), centernet()] {
            let (tensor, _) = p.to_input_tensor(&[255, 255, 255], 1, 1);
            assert_eq!(floats(tensor).len(), 3 * (p.side * p.side) as usize);
            // The longest strips the decoder takes, one pixel across.
            let side = crate::decode::MAX_SIDE;
            let strip = vec![255; side as usize * 3];
            for (w, h) in [(side, 1), (1, side)] {
                let (tensor, lb) = p.to_input_tensor(&strip, w, h);
                assert_eq!(floats(tensor).len(), 3 * (p.side * p.side) as usize);
                assert_eq!(lb.inner_width.min(lb.inner_height), 1, "{w}x{h}");
            }
        }
    }

    #[test]
    fn to_image_undoes_the_letterbox_and_clamps() {
        let lb = Placement::letterbox(451, 300, 416);
        let (x, y) = lb.to_image(208.0, 69.0 + 100.0 * lb.scale_y);
        assert!((x - 225.5).abs() < 0.1, "{x}");
        assert!((y - 100.0).abs() < 1e-3, "{y}");
        assert_eq!(lb.to_image(-5.0, 0.0), (0.0, 0.0));
        assert_eq!(lb.to_image(416.0, 416.0), (451.0, 300.0));
    }

    #[test]
    fn a_reduced_image_maps_back_to_the_photos_pixels() {
        // A 4001x3000 photo decoded at 1/8: 501x375 (the last block rounds up).
        let reduced = Placement::letterbox(501, 375, 416);
        let photo = reduced.of_photo(8, 4001, 3000);
        assert_eq!(reduced.inner_size(), photo.inner_size());
        assert_eq!((photo.pad_x, photo.pad_y), (reduced.pad_x, reduced.pad_y));
        // Reduced pixel 250 is photo pixel 2000.
        let (x, y) = photo.to_image(250.0 * reduced.scale_x, photo.pad_y as f32);
        assert!((x - 2000.0).abs() < 0.01, "{x}");
        assert_eq!(y, 0.0);
        // The far corner clamps to the photo, not to 8 x 501.
        assert_eq!(photo.to_image(416.0, 416.0), (4001.0, 3000.0));
    }

    #[test]
    fn uniform_images_stay_uniform_and_padding_is_the_fill() {
        let (w, h) = (300u32, 100u32);
        let rgb: Vec<u8> = std::iter::repeat_n([10u8, 20, 30], (w * h) as usize)
            .flatten()
            .collect();
        // NanoDet: B, G, R planes from R=10, G=20, B=30; black padding.
        let p = nanodet();
        let (t, lb) = p.to_input_tensor(&rgb, w, h);
        let t = floats(t);
        let side = p.side as usize;
        let plane = side * side;
        let at = |c: usize, x: u32, y: u32| t[c * plane + y as usize * side + x as usize];
        let inside = (208, lb.pad_y + 10);
        for (c, value) in [(0, 30.0), (1, 20.0), (2, 10.0)] {
            let want = (value - p.mean[c]) / p.std[c];
            assert!((at(c, inside.0, inside.1) - want).abs() < 1e-5);
            let black = -p.mean[c] / p.std[c];
            assert!((at(c, 0, 0) - black).abs() < 1e-6);
        }
        // Ultralytics' YOLO: RGB pixels / 255, interleaved here, padding 114.
        let p = Preprocess {
            side: 64,
            layout: Layout::Nhwc,
            fill: [114; 3],
            std: [255.0; 3],
            ..centernet()
        };
        let (t, lb) = p.to_input_tensor(&rgb, w, h);
        let t = floats(t);
        let pixel = |x: u32, y: u32| &t[(y as usize * 64 + x as usize) * 3..][..3];
        for (got, want) in pixel(32, lb.pad_y + 2).iter().zip([10.0, 20.0, 30.0]) {
            assert!((got - want / 255.0).abs() < 1e-6, "{got}");
        }
        assert!(pixel(0, 0).iter().all(|v| (v - 114.0 / 255.0).abs() < 1e-6));
        assert_eq!(p.shape(), [1, 64, 64, 3]);
        assert_eq!(nanodet().shape(), [1, 3, 416, 416]);
    }
}
