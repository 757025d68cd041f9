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
//! - [`preprocess`]: pixels to the model's input tensor (letterbox);
//! - [`postprocess`]: the model's outputs to boxes;
//! - [`model`]: the model's interface; [`labels`]: its class names;
//! - [`settings`]: deployment settings.
//!
//! Only in the component: `component` (the HTTP handler) and `inference`
//! (wasi-nn), over the generated `bindings`.

pub mod api;
pub mod decode;
pub mod labels;
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
