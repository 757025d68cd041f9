//! Spin application variables for the detector, which reads its settings
//! from environment variables (`WASI_DETECT_*`). This component exports
//! `wasi:cli/environment` and is plugged into the detector's import of it in
//! the portable build (`make portable`): the detector sees the host's
//! environment plus every variable the host's `wasi:config/store` holds, as
//! `WASI_DETECT_<NAME>` (`threshold` sets `WASI_DETECT_THRESHOLD`).
//!
//! - [`vars`]: the names and the merge; host-free, unit-tested natively.
//! - `exports` (in the component only): `wasi:cli/environment` over the
//!   host's `wasi:config/store` and `wasi:cli/environment`.

pub mod vars;

#[cfg(target_arch = "wasm32")]
mod exports;
