//! Deployment settings, read from environment variables so every host can set
//! them the same way (`wasmtime serve --env`, Spin's `environment`, a
//! Kubernetes pod spec).

use std::fmt;

/// Environment variable names and what they set.
pub const MODEL_VAR: &str = "WASI_DETECT_MODEL";
pub const MODELS_VAR: &str = "WASI_DETECT_MODELS";
pub const MODELS_DIR_VAR: &str = "WASI_DETECT_MODELS_DIR";
pub const THRESHOLD_VAR: &str = "WASI_DETECT_THRESHOLD";
pub const MAX_VAR: &str = "WASI_DETECT_MAX";
pub const MAX_MEMORY_VAR: &str = "WASI_DETECT_MAX_MEMORY";

/// Hard cap of `max`: more boxes than this is noise for any client.
pub const MAX_DETECTIONS_LIMIT: usize = 100;

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The default model: its folder under `models_dir`, and the name the
    /// host preloaded its graph under (`load-by-name`), if it did.
    pub model: String,
    /// The models served, by name; when not set, every folder of
    /// `models_dir` with a manifest (`model::discover`). The default model
    /// is always served.
    pub models: Option<Vec<String>>,
    /// Where model folders are mounted in the component's file system.
    pub models_dir: String,
    /// Default score threshold of `/predict` for every model; when not set,
    /// each model's own (its manifest's `threshold`).
    pub threshold: Option<f32>,
    /// Default cap of detections per image.
    pub max: usize,
    /// The most memory the instance may hold, in bytes: an image whose
    /// decode would take it past this is refused with 413
    /// (`memory::Budget`). When not set, the host's cap and the
    /// component's declared maximum bound it.
    pub max_memory: Option<u64>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            model: "nanodet".into(),
            models: None,
            models_dir: "/models".into(),
            threshold: None,
            max: 20,
            max_memory: None,
        }
    }
}

/// A setting with a value it cannot take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingError {
    pub name: &'static str,
    pub message: String,
}

impl fmt::Display for SettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "setting {}: {}", self.name, self.message)
    }
}

impl Settings {
    /// Settings from `(name, value)` pairs (the environment); unset ones keep
    /// their defaults, and so do empty ones but the model's (Spin's
    /// variables are always set: an empty one stands for "not set").
    pub fn from_vars<I, K, V>(vars: I) -> Result<Settings, SettingError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut s = Settings::default();
        for (name, value) in vars {
            let value = value.as_ref().trim();
            match name.as_ref() {
                MODEL_VAR => s.model = model_name(value).map_err(|m| err(MODEL_VAR, m))?,
                MODELS_VAR if !value.is_empty() => {
                    s.models = Some(model_names(value).map_err(|m| err(MODELS_VAR, m))?)
                }
                MODELS_DIR_VAR if !value.is_empty() => s.models_dir = value.to_string(),
                THRESHOLD_VAR if !value.is_empty() => {
                    s.threshold = Some(threshold(value).map_err(|m| err(THRESHOLD_VAR, m))?)
                }
                MAX_VAR => s.max = max_detections(value).map_err(|m| err(MAX_VAR, m))?,
                MAX_MEMORY_VAR if !value.is_empty() => {
                    s.max_memory =
                        Some(crate::memory::parse_size(value).map_err(|m| err(MAX_MEMORY_VAR, m))?)
                }
                _ => {}
            }
        }
        Ok(s)
    }
}

fn err(name: &'static str, message: String) -> SettingError {
    SettingError { name, message }
}

/// A model name is a single folder name: no path can be smuggled through it.
pub fn model_name(value: &str) -> Result<String, String> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && !value.starts_with('.')
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(value.to_string())
    } else {
        Err(format!(
            "'{value}' is not a model name (1-64 of A-Z a-z 0-9 - _ ., not starting with '.')"
        ))
    }
}

/// A comma-separated list of model names.
fn model_names(value: &str) -> Result<Vec<String>, String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(model_name)
        .collect()
}

/// A score threshold: a number from 0 to 1.
pub fn threshold(value: &str) -> Result<f32, String> {
    match value.parse::<f32>() {
        Ok(t) if (0.0..=1.0).contains(&t) => Ok(t),
        _ => Err(format!("'{value}' is not a number from 0 to 1")),
    }
}

/// A cap of detections: a whole number from 1 to `MAX_DETECTIONS_LIMIT`.
pub fn max_detections(value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(n) if (1..=MAX_DETECTIONS_LIMIT).contains(&n) => Ok(n),
        _ => Err(format!(
            "'{value}' is not a whole number from 1 to {MAX_DETECTIONS_LIMIT}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_when_nothing_is_set() {
        let none: [(&str, &str); 0] = [];
        assert_eq!(Settings::from_vars(none).unwrap(), Settings::default());
    }

    #[test]
    fn reads_every_setting() {
        let s = Settings::from_vars([
            (MODEL_VAR, "nanodet-ov"),
            (MODELS_VAR, "nanodet-ov, centernet-ov"),
            (MODELS_DIR_VAR, "/data"),
            (THRESHOLD_VAR, "0.5"),
            (MAX_VAR, "5"),
            (MAX_MEMORY_VAR, "128MiB"),
            ("PATH", "/bin"),
        ])
        .unwrap();
        assert_eq!(
            s,
            Settings {
                model: "nanodet-ov".into(),
                models: Some(vec!["nanodet-ov".into(), "centernet-ov".into()]),
                models_dir: "/data".into(),
                threshold: Some(0.5),
                max: 5,
                max_memory: Some(128 << 20),
            }
        );
    }

    #[test]
    fn empty_values_are_not_set() {
        let empty = [(MODELS_VAR, ""), (MODELS_DIR_VAR, " "), (THRESHOLD_VAR, "")];
        assert_eq!(Settings::from_vars(empty).unwrap(), Settings::default());
    }

    #[test]
    fn refuses_bad_values_naming_the_variable() {
        for (name, value) in [
            (MODEL_VAR, "../etc"),
            (MODEL_VAR, "a/b"),
            (MODEL_VAR, ""),
            (MODELS_VAR, "nanodet,../x"),
            (THRESHOLD_VAR, "1.5"),
            (THRESHOLD_VAR, "NaN"),
            (MAX_VAR, "0"),
            (MAX_VAR, "101"),
            (MAX_MEMORY_VAR, "lots"),
        ] {
            let e = Settings::from_vars([(name, value)]).unwrap_err();
            assert_eq!(e.name, name);
        }
    }
}
