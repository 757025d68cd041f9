//! `wasi:nn` for hosts that do not have it: a component that exports the
//! wasi-nn interfaces (`0.2.0-rc-2024-10-28`) and runs ONNX models with
//! tract, a pure-Rust engine compiled into the component. Composed with the
//! detector (`make portable`), it satisfies the detector's `wasi:nn` imports,
//! so the result runs on hosts such as Spin that only offer WASI.
//!
//! - [`engine`]: ONNX models with tract, and the tensor byte layout;
//!   host-free, unit-tested natively.
//! - `exports` (in the component only): the wasi-nn resources over it.
//! - `gemm` (in the component): a matrix kernel that fits wasm's 16 vector
//!   registers on x86-64, chosen over tract's own.
//! - `bake` (in the component): a model pre-initialised at build time by
//!   Wizer.

pub mod engine;

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod gemm;

#[cfg(target_arch = "wasm32")]
mod bake;

// Not in the wasm unit tests (scripts/test-gemm-wasm.sh): its resources
// need a component host.
#[cfg(all(target_arch = "wasm32", not(test)))]
mod exports;
