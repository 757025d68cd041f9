//! `wasi:cli/environment`, exported, over the host's `wasi:config/store`
//! and `wasi:cli/environment` ([`crate::vars`] does the merge).
//!
//! `wasi:config/store@0.2.0-draft-2024-09-27` is what Spin implements
//! application variables with since 3.0 (spinframework/spin, "Implement
//! wasi-config", #2869: `wit/deps/wasi-runtime-config-2024-09-27/`, imported
//! by the host worlds `fermyon:spin/platform@3.0.0` and `spin:up/platform`
//! 3.2 to 4.0; `crates/factor-variables/src/host.rs` answers `get-all` with
//! the component's variables, `[component.<name>.variables]`, resolved). So
//! `spin up --variable threshold=0.5`, `SPIN_VARIABLE_THRESHOLD=0.5` and
//! Fermyon Cloud's `spin cloud variables set` all reach the detector.

use crate::vars;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

wit_bindgen::generate!({
    path: "wit",
    world: "wasi-detect:settings/settings",
    generate_all,
});

use exports::wasi::cli::environment::Guest;
use wasi::cli::environment as host;
use wasi::config::store;

struct Settings;
export!(Settings);

/// The default model of the build this component is composed into: the
/// one `make portable` builds in (`WASI_DETECT_DEFAULT_MODEL` at build time,
/// scripts/build-settings.sh), so that the artifact served without settings
/// answers with the model it carries. Under the host's environment and the
/// variables (spin.toml's `model` names it too).
const DEFAULTS: &[(&str, &str)] = match option_env!("WASI_DETECT_DEFAULT_MODEL") {
    Some(model) => &[("WASI_DETECT_MODEL", model)],
    None => &[],
};

/// Whether this instance has said that the variables could not be read.
static WARNED: AtomicBool = AtomicBool::new(false);

impl Guest for Settings {
    fn get_environment() -> Vec<(String, String)> {
        // A store that fails leaves the environment as it is: the
        // detector then runs on its environment variables and defaults.
        let variables = store::get_all().unwrap_or_else(|e| {
            if !WARNED.swap(true, Ordering::Relaxed) {
                let (store::Error::Upstream(message) | store::Error::Io(message)) = e;
                // Put together without `format!`, whose machinery would
                // add 8 KB to this component.
                let line = [
                    "wasi-detect: the application variables could not be read (",
                    &message,
                    "); the settings come from the environment alone\n",
                ]
                .concat();
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
            Vec::new()
        });
        vars::with_defaults(vars::merge(host::get_environment(), variables), DEFAULTS)
    }

    fn get_arguments() -> Vec<String> {
        host::get_arguments()
    }

    fn initial_cwd() -> Option<String> {
        host::initial_cwd()
    }
}
