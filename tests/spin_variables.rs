//! Spin's application variables in the portable build: the settings
//! component (`settings/`) hands the detector every `wasi:config` variable
//! as `WASI_DETECT_<NAME>`, over the host's environment. The host serves it
//! with `-S config` and takes the variables as `-S config-var=NAME=VALUE`,
//! as `spin up --variable NAME=VALUE` hands them to Spin's.

mod common;

use common::{Backend, Request, Server, ServerConfig, TempModels, PORTABLE_MODEL};
use serde_json::Value;
use std::sync::OnceLock;

/// A photo with two detections at the default model's threshold (coco-ssd,
/// 0.5), one of them under 0.9: a cup (0.96) and a dining table (0.82).
const PHOTO: &str = "coffee.png";

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The portable build, served as Spin serves it, with these environment
/// variables and application variables.
fn portable(env: &[(&str, &str)], variables: &[(&str, &str)]) -> Server {
    Server::start(ServerConfig {
        env: pairs(env),
        config_vars: pairs(variables),
        ..ServerConfig::spin()
    })
}

/// The portable build without variables or settings: the defaults.
fn plain() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| portable(&[], &[]))
}

/// `PHOTO`'s detections by `server`, with `query`.
fn detect(server: &Server, query: &str) -> Value {
    let r = server.post_fixture(&format!("/predict{query}"), PHOTO);
    assert_eq!(r.status, 200, "{query}: {}", r.text());
    r.json()
}

fn scores(detections: &Value) -> Vec<f64> {
    let list = detections.as_array().expect("a list of detections");
    list.iter().map(|d| d["score"].as_f64().unwrap()).collect()
}

#[test]
fn without_variables_the_defaults_and_the_environment_apply_as_before() {
    let default = detect(plain(), "");
    assert_eq!(default, detect(plain(), "?threshold=0.5&max=20"));
    // The photo tells the thresholds below apart.
    let found = scores(&default);
    assert!(
        found.len() == 2 && found[1] < 0.9,
        "{PHOTO} no longer has a detection between 0.5 and 0.9: {default}"
    );
    assert!(scores(&detect(plain(), "?threshold=0.1")).len() > 2);

    // Environment variables still reach the detector through the settings
    // component.
    let env = portable(&[("WASI_DETECT_THRESHOLD", "0.1")], &[]);
    assert_eq!(detect(&env, ""), detect(plain(), "?threshold=0.1"));
}

#[test]
fn a_variable_sets_the_default_threshold_over_the_environment_variable() {
    let server = portable(&[("WASI_DETECT_THRESHOLD", "0.1")], &[("threshold", "0.9")]);
    let got = detect(&server, "");
    assert_eq!(got, detect(plain(), "?threshold=0.9"));
    assert_ne!(got, detect(plain(), "?threshold=0.1"));
    assert_ne!(got, detect(plain(), ""));
    // A request's own threshold still wins over the default.
    assert_eq!(
        detect(&server, "?threshold=0.5"),
        detect(plain(), "?threshold=0.5")
    );
}

#[test]
fn a_variable_sets_the_default_max() {
    let server = portable(&[], &[("max", "1")]);
    let got = detect(&server, "");
    assert_eq!(scores(&got).len(), 1, "{got}");
    assert_eq!(got, detect(plain(), "?max=1"));
}

#[test]
fn model_variables_reach_the_detector_and_not_the_provider() {
    // Only the detector's environment is plugged: the provider's
    // load-by-name still reads the models directory of the host's
    // environment (the default, /models), while the detector reads the
    // folders of the one the variable names.
    let server = portable(
        &[],
        &[("model", "no-such-model"), ("models_dir", "/nowhere")],
    );
    let message = server
        .post_fixture("/predict", PHOTO)
        .assert_error(503, "model_unavailable");
    for part in [
        "model 'no-such-model'",
        "/nowhere/no-such-model/manifest.json",
    ] {
        assert!(message.contains(part), "no {part:?} in: {message}");
    }

    // A model only under the variable's directory (mounted at /data): the
    // provider's load-by-name does not find it in /models, so the detector
    // reads the weights from /data and hands them to the provider's `load`.
    let data = TempModels::new("spin-data");
    data.model_from(
        "elsewhere",
        PORTABLE_MODEL,
        &["manifest.json", "labels.txt", "model.onnx"],
    );
    let server = Server::start(ServerConfig {
        config_vars: pairs(&[("model", "elsewhere"), ("models_dir", "/data")]),
        args: vec!["--dir".into(), format!("{}::/data", data.0.display())],
        ..ServerConfig::backend(Backend::Portable)
    });
    let warm = server.request(Request::get("/warm")).json();
    assert_eq!(
        (warm["model"].as_str(), warm["source"].as_str()),
        (Some("elsewhere"), Some("/data/elsewhere/model.onnx")),
        "{warm}"
    );
    assert_eq!(detect(&server, ""), detect(plain(), ""));
}
