//! From application variables to the detector's environment variables.

/// What the detector's environment variables are called: `WASI_DETECT_`
/// and the setting's name in capitals.
pub const PREFIX: &str = "WASI_DETECT_";

/// The environment variable that application variable `name` sets:
/// `threshold` sets `WASI_DETECT_THRESHOLD`, `models_dir`
/// `WASI_DETECT_MODELS_DIR`. `None` for a name no environment variable can
/// have: empty, or with `=` or NUL in it (Spin's are lowercase letters,
/// digits and underscores).
pub fn env_name(name: &str) -> Option<String> {
    if name.is_empty() || name.contains(['=', '\0']) {
        return None;
    }
    Some(format!("{PREFIX}{}", name.to_ascii_uppercase()))
}

/// The environment the detector sees: `environment` (the host's) with every
/// one of `variables` added under its [`env_name`]. A variable wins over an
/// environment variable of the same name, and the later of two variables
/// of the same name wins. Without variables the environment is returned as
/// it is.
pub fn merge(
    environment: Vec<(String, String)>,
    variables: Vec<(String, String)>,
) -> Vec<(String, String)> {
    let mut set: Vec<(String, String)> = Vec::with_capacity(variables.len());
    for (name, value) in variables {
        if let Some(name) = env_name(&name) {
            set.retain(|(n, _)| *n != name);
            set.push((name, value));
        }
    }
    let mut merged: Vec<(String, String)> = environment
        .into_iter()
        .filter(|(name, _)| !set.iter().any(|(n, _)| n == name))
        .collect();
    merged.extend(set);
    merged
}

/// `environment` with each of `defaults` (an environment variable and its
/// value) added where it has no value yet: the build's own defaults, under
/// the host's environment and the variables.
pub fn with_defaults(
    mut environment: Vec<(String, String)>,
    defaults: &[(&str, &str)],
) -> Vec<(String, String)> {
    for (name, value) in defaults {
        if !environment.iter().any(|(n, _)| n == name) {
            environment.push((name.to_string(), value.to_string()));
        }
    }
    environment
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn names_are_the_detectors_environment_variables() {
        assert_eq!(env_name("threshold").unwrap(), "WASI_DETECT_THRESHOLD");
        assert_eq!(env_name("max").unwrap(), "WASI_DETECT_MAX");
        assert_eq!(env_name("model").unwrap(), "WASI_DETECT_MODEL");
        assert_eq!(env_name("models_dir").unwrap(), "WASI_DETECT_MODELS_DIR");
        assert_eq!(env_name("Threshold").unwrap(), "WASI_DETECT_THRESHOLD");
    }

    #[test]
    fn names_no_environment_variable_can_have_are_left_out() {
        for name in ["", "a=b", "a\0b"] {
            assert_eq!(env_name(name), None, "{name:?}");
        }
        let env = pairs(&[("PATH", "/bin")]);
        assert_eq!(merge(env.clone(), pairs(&[("", "1"), ("a=b", "2")])), env);
    }

    #[test]
    fn without_variables_the_environment_passes_through_unchanged() {
        let env = pairs(&[
            ("WASI_DETECT_THRESHOLD", "0.5"),
            ("PATH", "/bin"),
            ("WASI_DETECT_MAX", "3"),
        ]);
        assert_eq!(merge(env.clone(), vec![]), env);
        assert_eq!(merge(vec![], vec![]), vec![]);
    }

    #[test]
    fn variables_are_added_after_the_environment() {
        let merged = merge(
            pairs(&[("PATH", "/bin"), ("WASI_DETECT_MAX", "3")]),
            pairs(&[("threshold", "0.5"), ("models_dir", "/data")]),
        );
        assert_eq!(
            merged,
            pairs(&[
                ("PATH", "/bin"),
                ("WASI_DETECT_MAX", "3"),
                ("WASI_DETECT_THRESHOLD", "0.5"),
                ("WASI_DETECT_MODELS_DIR", "/data"),
            ])
        );
    }

    #[test]
    fn a_variable_wins_over_the_environment_variable_of_its_name() {
        let merged = merge(
            pairs(&[
                ("WASI_DETECT_THRESHOLD", "0.1"),
                ("PATH", "/bin"),
                ("WASI_DETECT_THRESHOLD", "0.2"),
            ]),
            pairs(&[("threshold", "0.5")]),
        );
        assert_eq!(
            merged,
            pairs(&[("PATH", "/bin"), ("WASI_DETECT_THRESHOLD", "0.5")])
        );
    }

    #[test]
    fn of_two_variables_of_one_name_the_later_wins() {
        let merged = merge(vec![], pairs(&[("max", "1"), ("MAX", "2")]));
        assert_eq!(merged, pairs(&[("WASI_DETECT_MAX", "2")]));
    }

    #[test]
    fn a_default_of_the_build_applies_only_where_nothing_set_it() {
        let defaults = [("WASI_DETECT_MODEL", "coco-ssd")];
        let set = pairs(&[("WASI_DETECT_MODEL", "nanodet")]);
        assert_eq!(with_defaults(set.clone(), &defaults), set);
        assert_eq!(
            with_defaults(pairs(&[("PATH", "/bin")]), &defaults),
            pairs(&[("PATH", "/bin"), ("WASI_DETECT_MODEL", "coco-ssd")])
        );
        assert_eq!(with_defaults(set.clone(), &[]), set);
    }

    #[test]
    fn values_are_passed_as_they_are() {
        // The detector checks them and says what is wrong with one.
        let merged = merge(vec![], pairs(&[("threshold", " 2 "), ("model", "")]));
        assert_eq!(
            merged,
            pairs(&[("WASI_DETECT_THRESHOLD", " 2 "), ("WASI_DETECT_MODEL", "")])
        );
    }
}
