//! wasi-detect: object detection as a WebAssembly HTTP component.
//!
//! `POST /predict` with a JPEG or PNG answers the objects in it as JSON.
//! Decoding, the input tensor and the box decoding run in the component; the
//! model runs in the host's engine through wasi-nn.
//!
//! One module, one job. The host-free ones are unit-tested natively:
//! - [`api`]: routes, content types, query parameters, JSON answers and errors;
//! - [`decode`]: bytes to upright RGB pixels, large JPEGs at a reduced
//!   scale (a phone photo's 1/8 scale from its DC coefficients, in the `pixels` crate);
//! - [`model`]: a model as a folder of data: its [`manifest`] (read with
//!   [`json`]) and [`labels`];
//! - [`preprocess`]: pixels to a model's input tensor (letterbox);
//! - [`postprocess`]: a model's outputs to boxes, one module per family of
//!   detection heads;
//! - [`settings`]: deployment settings.
//!
//! Only in the component: `component` (the HTTP handler) and `inference`
//! (wasi-nn), over the generated `bindings`.

pub mod api;
pub mod decode;
pub mod json;
pub mod labels;
pub mod manifest;
pub mod model;
pub mod postprocess;
pub mod preprocess;
pub mod settings;

#[cfg(target_arch = "wasm32")]
mod bindings {
    wit_bindgen::generate!({ path: "wit", world: "detector", generate_all });
}
#[cfg(target_arch = "wasm32")]
mod component;
#[cfg(target_arch = "wasm32")]
mod inference;
