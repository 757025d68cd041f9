//! wasi:nn for hosts that have none, with the model run on a KServe v2
//! (Open Inference Protocol) server: KServe, NVIDIA Triton, OpenVINO Model
//! Server. Composed with the detector (`make kserve`), it turns each
//! `compute` into one `POST /v2/models/{name}/infer` over wasi:http, so the
//! same detector gets native inference from any Spin host.

pub mod protocol;
pub mod settings;

#[cfg(target_arch = "wasm32")]
mod client;
#[cfg(target_arch = "wasm32")]
mod exports;
