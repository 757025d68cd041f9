//! The detector's hot pixel loops, in a crate of their own so they are
//! built for speed (opt-level 3, set in the workspace's release profile)
//! while the detector's own code is built for size: level 3 for the
//! detector's crate as a whole adds 64 KB to the component.
//!
//! - [`jpeg_dc`]: a baseline JPEG at 1/8 scale from its DC coefficients
//!   (a phone photo for a 416-pixel model input);
//! - [`orient`]: the EXIF orientation applied;
//! - [`resize`]: Pillow's bilinear resize in its fixed point, also fed
//!   row by row;
//! - [`samples`]: grey, grey and alpha, or RGBA rows as RGB;
//! - [`tf_resize`]: TensorFlow's bilinear resize (no antialiasing), also
//!   fed row by row;
//! - [`tensor`]: an image into a tensor's normalised values, as planes
//!   (NCHW) or interleaved (NHWC).

pub mod jpeg_dc;
pub mod orient;
pub mod resize;
pub mod samples;
pub mod tensor;
pub mod tf_resize;

/// Which resize makes a model's input: the one its own pipeline uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// Pillow's bilinear, antialiased when it reduces ([`resize`]).
    Pillow,
    /// TensorFlow's bilinear, no antialiasing ([`tf_resize`]).
    TensorFlow,
}

/// Resizes an RGB8 image of `from` (width, height) to `to` with `filter`.
pub fn resize_rgb(filter: Filter, src: &[u8], from: (usize, usize), to: (usize, usize)) -> Vec<u8> {
    let mut resizer = RowResizer::new(filter, from, to);
    for row in src.chunks_exact(from.0 * 3).take(from.1) {
        resizer.push_row(row);
    }
    resizer.finish()
}

/// Either filter's resize, fed one source row at a time.
pub enum RowResizer {
    Pillow(resize::RowResizer),
    TensorFlow(tf_resize::RowResizer),
}

impl RowResizer {
    /// A resize of `from` (width, height) to `to`, all at least 1.
    pub fn new(filter: Filter, from: (usize, usize), to: (usize, usize)) -> Self {
        match filter {
            Filter::Pillow => Self::Pillow(resize::RowResizer::new(from.0, from.1, to.0, to.1)),
            Filter::TensorFlow => {
                Self::TensorFlow(tf_resize::RowResizer::new(from.0, from.1, to.0, to.1))
            }
        }
    }

    /// The most a resize of `from` to `to` holds at once, in bytes: its
    /// taps, the rows between its passes and its output (Pillow's filter
    /// keeps every source row's horizontal pass, `from.1 * to.0` pixels,
    /// and works the vertical pass into a second buffer).
    pub fn memory(filter: Filter, from: (usize, usize), to: (usize, usize)) -> usize {
        let taps = (from.0 + from.1) * 16 + (to.0 + to.1) * 64;
        taps + match filter {
            Filter::Pillow => from.1 * to.0 * 3 + to.0 * to.1 * 3 + to.0 * 12,
            Filter::TensorFlow => to.0 * to.1 * 3 + to.0 * 24,
        }
    }

    pub fn push_row(&mut self, row: &[u8]) {
        match self {
            Self::Pillow(r) => r.push_row(row),
            Self::TensorFlow(r) => r.push_row(row),
        }
    }

    pub fn finish(self) -> Vec<u8> {
        match self {
            Self::Pillow(r) => r.finish(),
            Self::TensorFlow(r) => r.finish(),
        }
    }
}
