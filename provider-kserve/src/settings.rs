//! Where the v2 server is and how long to wait for it, from the environment
//! (Spin's application variables reach it as `WASI_DETECT_*` through the
//! settings component, as they reach the detector). Pure, tested natively.

/// The server's base URL: `http://host:port` or `https://host`, and a path
/// prefix if the server is mounted under one (`https://host/serving`).
pub const URL_VAR: &str = "WASI_DETECT_INFERENCE_URL";
/// Seconds a call to the server may take, connection to the last byte of
/// its answer (default [`DEFAULT_TIMEOUT_MS`]).
pub const TIMEOUT_VAR: &str = "WASI_DETECT_INFERENCE_TIMEOUT";
/// The server's names for the detector's models, where they differ:
/// `nanodet=nanodet-v1,coco-ssd=ssd`. A model not named is asked for by the
/// detector's name.
pub const MODELS_VAR: &str = "WASI_DETECT_INFERENCE_MODELS";
/// A bearer token sent as `authorization` (a KServe or Triton behind an
/// authenticating gateway).
pub const TOKEN_VAR: &str = "WASI_DETECT_INFERENCE_TOKEN";

/// Ten seconds: well inside the 30 s that Spin's clouds give a request, far
/// above an inference's tens of milliseconds.
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub scheme: Scheme,
    /// `host[:port]`.
    pub authority: String,
    /// Empty, or `/prefix` without a trailing slash.
    pub prefix: String,
    pub timeout_ms: u64,
    /// (detector's name, server's name).
    pub models: Vec<(String, String)>,
    pub token: Option<String>,
}

impl Settings {
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Result<Settings, String> {
        let (mut url, mut timeout, mut models, mut token) = (None, None, None, None);
        for (name, value) in vars {
            match name.as_str() {
                URL_VAR => url = Some(value),
                TIMEOUT_VAR => timeout = Some(value),
                MODELS_VAR => models = Some(value),
                TOKEN_VAR => token = Some(value).filter(|t| !t.is_empty()),
                _ => {}
            }
        }
        let url = url.filter(|u| !u.trim().is_empty()).ok_or_else(|| {
            format!("no inference server is set: set {URL_VAR} (Spin: the variable inference_url) to the v2 server's URL, e.g. http://127.0.0.1:8000")
        })?;
        let (scheme, authority, prefix) = parse_url(url.trim())?;
        let timeout_ms = match timeout {
            None => DEFAULT_TIMEOUT_MS,
            Some(t) => parse_seconds(&t).ok_or_else(|| {
                format!("{TIMEOUT_VAR}='{t}' is not a number of seconds from 0.001 to 600")
            })?,
        };
        let models = match models {
            None => Vec::new(),
            Some(list) => parse_models(&list)?,
        };
        Ok(Settings {
            scheme,
            authority,
            prefix,
            timeout_ms,
            models,
            token,
        })
    }

    /// The server's name for the detector's model `name`.
    pub fn server_name<'a>(&'a self, name: &'a str) -> &'a str {
        self.models
            .iter()
            .find(|(ours, _)| ours == name)
            .map_or(name, |(_, theirs)| theirs.as_str())
    }

    /// The server's URL, for messages.
    pub fn url(&self) -> String {
        let scheme = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        format!("{scheme}://{}{}", self.authority, self.prefix)
    }
}

fn parse_url(url: &str) -> Result<(Scheme, String, String), String> {
    let bad = |why: &str| {
        format!("{URL_VAR}='{url}' is not a server URL: {why} (e.g. http://127.0.0.1:8000)")
    };
    let (scheme, rest) = if let Some(rest) = url.strip_prefix("http://") {
        (Scheme::Http, rest)
    } else if let Some(rest) = url.strip_prefix("https://") {
        (Scheme::Https, rest)
    } else {
        return Err(bad("it must start with http:// or https://"));
    };
    if rest.contains(['?', '#']) {
        return Err(bad("it may not have a query or fragment"));
    }
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if authority.is_empty() || authority.contains('@') || authority.contains(char::is_whitespace) {
        return Err(bad("it needs a host, without user or password"));
    }
    Ok((
        scheme,
        authority.to_string(),
        path.trim_end_matches('/').to_string(),
    ))
}

fn parse_seconds(text: &str) -> Option<u64> {
    let seconds: f64 = text.trim().parse().ok()?;
    (0.001..=600.0)
        .contains(&seconds)
        .then(|| (seconds * 1000.0).round() as u64)
}

/// Whether `name` can go in a URL's path as it is (v2 servers' model names
/// are letters, digits, `-`, `_` and `.`).
pub fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn parse_models(list: &str) -> Result<Vec<(String, String)>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| match entry.split_once('=') {
            Some((ours, theirs)) if is_plain_name(ours.trim()) && is_plain_name(theirs.trim()) => {
                Ok((ours.trim().to_string(), theirs.trim().to_string()))
            }
            _ => Err(format!(
                "{MODELS_VAR}: '{entry}' is not ours=theirs with two model names (letters, digits, '-', '_', '.')"
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_url_alone_is_enough() {
        let s = Settings::from_vars(vars(&[(URL_VAR, "http://127.0.0.1:8000/")])).unwrap();
        assert_eq!(s.scheme, Scheme::Http);
        assert_eq!(s.authority, "127.0.0.1:8000");
        assert_eq!(s.prefix, "");
        assert_eq!(s.timeout_ms, DEFAULT_TIMEOUT_MS);
        assert_eq!(s.server_name("nanodet"), "nanodet");
        assert_eq!(s.url(), "http://127.0.0.1:8000");
    }

    #[test]
    fn every_setting() {
        let s = Settings::from_vars(vars(&[
            (URL_VAR, "https://serving.example.com/v1/detect"),
            (TIMEOUT_VAR, "2.5"),
            (MODELS_VAR, "nanodet=nanodet-v1, coco-ssd=ssd"),
            (TOKEN_VAR, "secret"),
        ]))
        .unwrap();
        assert_eq!(s.scheme, Scheme::Https);
        assert_eq!(s.prefix, "/v1/detect");
        assert_eq!(s.timeout_ms, 2500);
        assert_eq!(s.server_name("coco-ssd"), "ssd");
        assert_eq!(s.server_name("centernet"), "centernet");
        assert_eq!(s.token.as_deref(), Some("secret"));
    }

    #[test]
    fn bad_settings_say_what_is_wrong() {
        let error = |list: &[(&str, &str)]| Settings::from_vars(vars(list)).unwrap_err();
        assert!(error(&[]).contains("no inference server is set"));
        assert!(error(&[(URL_VAR, "127.0.0.1:8000")]).contains("http:// or https://"));
        assert!(error(&[(URL_VAR, "http://u:p@host")]).contains("without user"));
        assert!(error(&[(URL_VAR, "http://host/?x")]).contains("query"));
        let url = (URL_VAR, "http://host");
        assert!(error(&[url, (TIMEOUT_VAR, "0")]).contains("seconds"));
        assert!(error(&[url, (TIMEOUT_VAR, "soon")]).contains("seconds"));
        assert!(error(&[url, (MODELS_VAR, "nanodet")]).contains("ours=theirs"));
        assert!(error(&[url, (MODELS_VAR, "a=../b")]).contains("ours=theirs"));
    }

    #[test]
    fn plain_names() {
        assert!(is_plain_name("coco-ssd_v1.2"));
        for name in ["", ".", "..", "a/b", "a b", "a%2f", "é"] {
            assert!(!is_plain_name(name), "{name}");
        }
    }
}
