//! `wasi:nn` for hosts that do not have it: a component that exports the
//! wasi-nn interfaces (`0.2.0-rc-2024-10-28`) and runs ONNX models with
//! tract, a pure-Rust engine compiled into the component. Composed with the
//! detector (`make portable`), it satisfies the detector's `wasi:nn` imports,
//! so the result runs on hosts such as Spin that only offer WASI.
//!
//! - [`engine`]: ONNX models with tract, and the tensor byte layout;
//!   host-free, unit-tested natively.
//! - `exports` (in the component only): the wasi-nn resources over it.
//! - `bake` (in the component): a model pre-initialised at build time by
//!   Wizer.

pub mod engine;

#[cfg(target_arch = "wasm32")]
mod bake;

#[cfg(target_arch = "wasm32")]
mod exports;
