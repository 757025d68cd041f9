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
//! - [`memory`]: what a request may take of the instance's memory, reserved
//!   before it is allocated;
//! - [`settings`]: deployment settings;
//! - [`decimal`]: numbers as decimal text.
//!
//! Only in the component: `component` (the HTTP handler), exported as
//! WASIp2's or WASIp3's wasi:http by `http_p2` or `http_p3` (the `wasip2`
//! and `wasip3` features), and `inference` (wasi-nn), over the generated
//! `bindings`.

pub mod api;
pub mod decimal;
pub mod decode;
pub mod json;
pub mod labels;
pub mod manifest;
pub mod memory;
pub mod model;
pub mod postprocess;
pub mod preprocess;
pub mod settings;

// The component is a WASIp2 one; on other wasm targets (wasm32-wasip1, where
// `scripts/test-pixels-wasm.sh` runs tests/memory_reckoning.rs with Node's
// WASI) the crate is its pure modules only.
#[cfg(all(target_arch = "wasm32", target_env = "p2"))]
mod bindings {
    wit_bindgen::generate!({ path: "wit", world: "detector", generate_all });
}
#[cfg(all(target_arch = "wasm32", target_env = "p2"))]
mod component;
#[cfg(all(target_arch = "wasm32", target_env = "p2", feature = "wasip2"))]
mod http_p2;
#[cfg(all(target_arch = "wasm32", target_env = "p2", feature = "wasip3"))]
mod http_p3;
#[cfg(all(target_arch = "wasm32", target_env = "p2"))]
mod inference;
