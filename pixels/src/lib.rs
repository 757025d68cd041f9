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
//! - [`tensor`]: an image into a tensor's normalised values, as planes
//!   (NCHW) or interleaved (NHWC).

pub mod jpeg_dc;
pub mod orient;
pub mod resize;
pub mod samples;
pub mod tensor;
