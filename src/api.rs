//! The HTTP API as plain data: routes, content types, query parameters, body
//! limits, and the JSON of answers and errors. The component glues this to
//! the host's request and response types; everything here is host-free.

use crate::decode::{DecodeError, Format};
use crate::labels;
use crate::postprocess::{Detection, Filter};
use crate::settings::{self, Settings};

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 5 * 1024 * 1024;

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Predict,
    Warm,
    /// The demo page.
    Page,
    /// The names of the example photos.
    Examples,
    /// One example photo, by file name.
    Example(String),
    /// A CORS preflight (`OPTIONS`) for one of the routes above.
    Preflight,
}

/// Where the example photos are served from, under the routes' root.
pub const EXAMPLES_PATH: &str = "/examples";

/// A failed request: HTTP status, a stable machine-readable code and a
/// sentence for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// Methods the route takes, for the `allow` header of a 405.
    pub allow: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            allow: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(400, "bad_request", message)
    }

    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        ApiError::new(400, "invalid_parameter", message)
    }

    pub fn payload_too_large() -> Self {
        ApiError::new(
            413,
            "payload_too_large",
            format!("the body is larger than {} bytes (5 MB)", MAX_BODY_BYTES),
        )
    }

    pub fn model_unavailable(message: impl Into<String>) -> Self {
        ApiError::new(503, "model_unavailable", message)
    }

    pub fn inference_failed(message: impl Into<String>) -> Self {
        ApiError::new(500, "inference_failed", message)
    }

    pub fn invalid_setting(e: &settings::SettingError) -> Self {
        ApiError::new(500, "invalid_setting", e.to_string())
    }

    /// `{"code": ..., "message": ...}`
    pub fn to_json(&self) -> Vec<u8> {
        format!(
            r#"{{"code":{},"message":{}}}"#,
            json_string(self.code),
            json_string(&self.message)
        )
        .into_bytes()
    }
}

impl From<DecodeError> for ApiError {
    fn from(e: DecodeError) -> Self {
        match e {
            DecodeError::TooManyPixels { .. } => {
                ApiError::new(413, "image_too_large", e.to_string())
            }
            DecodeError::WrongFormat { .. } | DecodeError::Corrupt { .. } => {
                ApiError::new(422, "invalid_image", e.to_string())
            }
        }
    }
}

/// A JSON string literal: quotes, backslashes and control characters escaped.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON number: the shortest text that reads back as `v` (`512.0` keeps
/// its point, as most JSON writers do); `null` for what JSON cannot hold.
fn json_number(v: f64) -> String {
    if !v.is_finite() {
        "null".into()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

/// Which route `method` + `path` is, or the 404/405 to answer.
pub fn route(method: &str, path: &str) -> Result<Route, ApiError> {
    let path = match path.strip_suffix('/') {
        Some(p) if !p.is_empty() => p,
        _ => path,
    };
    let not_found = || {
        ApiError::new(
            404,
            "not_found",
            format!("no route {path}; the API has POST /predict, GET /warm and the page at GET /"),
        )
    };
    let (route, allowed) = match path {
        "/predict" => (Route::Predict, "POST"),
        "/warm" => (Route::Warm, "GET"),
        "/" => (Route::Page, "GET"),
        EXAMPLES_PATH => (Route::Examples, "GET"),
        _ => {
            let name = path
                .strip_prefix(EXAMPLES_PATH)
                .and_then(|rest| rest.strip_prefix('/'))
                .filter(|name| example_type(name).is_some())
                .ok_or_else(not_found)?;
            (Route::Example(name.to_string()), "GET")
        }
    };
    match method {
        "OPTIONS" => Ok(Route::Preflight),
        m if m == allowed => Ok(route),
        _ => Err(ApiError {
            allow: Some(allowed),
            ..ApiError::new(
                405,
                "method_not_allowed",
                format!("{path} takes {allowed}, not {method}"),
            )
        }),
    }
}

/// The media type of an example photo's file name, if it is one: a plain
/// name (no path, not hidden) ending in `.jpg`, `.jpeg` or `.png`.
pub fn example_type(name: &str) -> Option<&'static str> {
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    let (_, ext) = name.rsplit_once('.')?;
    match ext.to_ascii_lowercase().as_str() {
        "jpg" | "jpeg" if plain => Some("image/jpeg"),
        "png" if plain => Some("image/png"),
        _ => None,
    }
}

/// The JSON list of example photos among the `names` of a folder, sorted.
pub fn examples_json<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> Vec<u8> {
    let mut names: Vec<String> = names
        .into_iter()
        .filter(|n| example_type(n.as_ref()).is_some())
        .map(|n| n.as_ref().to_string())
        .collect();
    names.sort();
    let items: Vec<String> = names.iter().map(|n| json_string(n)).collect();
    format!("[{}]", items.join(",")).into_bytes()
}

/// The image format of a `content-type` header (parameters allowed), or 415.
pub fn image_format(content_type: Option<&str>) -> Result<Format, ApiError> {
    let unsupported = |what: String| {
        ApiError::new(
            415,
            "unsupported_media_type",
            format!("{what}; send the image as image/jpeg or image/png"),
        )
    };
    let Some(value) = content_type else {
        return Err(unsupported("the request has no content-type".into()));
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "image/jpeg" | "image/jpg" | "image/pjpeg" => Ok(Format::Jpeg),
        "image/png" => Ok(Format::Png),
        _ => Err(unsupported(format!(
            "content-type {value} is not supported"
        ))),
    }
}

/// The declared body size: 413 when over the limit, 400 when not a number.
pub fn content_length(value: Option<&str>) -> Result<Option<usize>, ApiError> {
    let Some(value) = value else { return Ok(None) };
    match value.trim().parse::<u64>() {
        Ok(n) if n > MAX_BODY_BYTES as u64 => Err(ApiError::payload_too_large()),
        Ok(n) => Ok(Some(n as usize)),
        Err(_) => Err(ApiError::bad_request(format!(
            "content-length '{value}' is not a number"
        ))),
    }
}

/// Collects a body chunk by chunk, refusing it as soon as it passes the
/// limit, so an oversized upload is never held in memory whole.
#[derive(Debug, Default)]
pub struct BodyBuffer {
    bytes: Vec<u8>,
}

impl BodyBuffer {
    /// A buffer sized for a body that says it is `expected` bytes.
    pub fn with_expected(expected: Option<usize>) -> Self {
        BodyBuffer {
            bytes: Vec::with_capacity(expected.unwrap_or(0).min(MAX_BODY_BYTES)),
        }
    }

    pub fn push(&mut self, chunk: &[u8]) -> Result<(), ApiError> {
        if self.bytes.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(ApiError::payload_too_large());
        }
        self.bytes.extend_from_slice(chunk);
        Ok(())
    }

    /// The whole body; an empty one is a 400.
    pub fn finish(self) -> Result<Vec<u8>, ApiError> {
        if self.bytes.is_empty() {
            return Err(ApiError::bad_request(
                "the body is empty; send the image bytes as the body",
            ));
        }
        Ok(self.bytes)
    }
}

/// The `/predict` query (`threshold`, `max`, `classes`) over the defaults.
pub fn predict_filter(query: &str, defaults: &Settings) -> Result<Filter, ApiError> {
    let mut filter = Filter {
        threshold: defaults.threshold,
        max: defaults.max,
        classes: None,
    };
    let mut seen: Vec<String> = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode(raw_key)?;
        let value = percent_decode(raw_value)?;
        if seen.contains(&key) {
            return Err(ApiError::invalid_parameter(format!(
                "'{key}' is given more than once"
            )));
        }
        let bad = |m: String| ApiError::invalid_parameter(format!("{key}: {m}"));
        match key.as_str() {
            "threshold" => filter.threshold = settings::threshold(&value).map_err(bad)?,
            "max" => filter.max = settings::max_detections(&value).map_err(bad)?,
            "classes" => filter.classes = Some(class_ids(&value)?),
            _ => {
                return Err(ApiError::invalid_parameter(format!(
                    "unknown query parameter '{key}'; /predict takes threshold, max and classes"
                )))
            }
        }
        seen.push(key);
    }
    Ok(filter)
}

fn class_ids(list: &str) -> Result<Vec<usize>, ApiError> {
    let names: Vec<&str> = list
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    if names.is_empty() {
        return Err(ApiError::invalid_parameter(
            "classes: give one or more class names, comma-separated",
        ));
    }
    names
        .iter()
        .map(|n| {
            labels::id(n).ok_or_else(|| {
                ApiError::invalid_parameter(format!(
                    "classes: '{n}' is not a class of the model (e.g. person, car, dog, traffic light)"
                ))
            })
        })
        .collect()
}

/// Decodes `%XX` escapes and `+` (space) of a query component.
fn percent_decode(s: &str) -> Result<String, ApiError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    // Checked first: `from_str_radix` alone takes a sign ("%+c").
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| ApiError::invalid_parameter(format!("bad %-escape in '{s}'")))?;
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| ApiError::invalid_parameter(format!("'{s}' is not UTF-8")))
}

fn round_to(v: f32, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (f64::from(v) * f).round() / f
}

/// `[{"bbox":[{"x":..,"y":..},{"x":..,"y":..}],"class":..,"score":..}, ...]`:
/// corners to 0.01 px, scores to 0.001.
pub fn detections_json(detections: &[Detection]) -> Vec<u8> {
    let point = |x: f32, y: f32| {
        format!(
            r#"{{"x":{},"y":{}}}"#,
            json_number(round_to(x, 2)),
            json_number(round_to(y, 2))
        )
    };
    let items: Vec<String> = detections
        .iter()
        .map(|d| {
            format!(
                r#"{{"bbox":[{},{}],"class":{},"score":{}}}"#,
                point(d.x1, d.y1),
                point(d.x2, d.y2),
                json_string(&labels::name(d.class)),
                json_number(round_to(d.score, 3))
            )
        })
        .collect();
    format!("[{}]", items.join(",")).into_bytes()
}

/// What `/warm` reports.
#[derive(Debug)]
pub struct WarmReport {
    pub model: String,
    /// How the graph was obtained: `load-by-name` or the file it was read from.
    pub source: String,
    /// Whether this call loaded it (false: the instance already had it).
    pub loaded_now: bool,
    pub load_ms: f64,
    pub inference_ms: f64,
    /// The instance's linear memory. It only grows, so this is the peak of
    /// every request the instance has served.
    pub memory_bytes: u64,
}

impl WarmReport {
    pub fn to_json(&self) -> Vec<u8> {
        format!(
            r#"{{"model":{},"source":{},"loaded_now":{},"load_ms":{},"inference_ms":{},"memory_bytes":{}}}"#,
            json_string(&self.model),
            json_string(&self.source),
            self.loaded_now,
            json_number(round_to(self.load_ms as f32, 2)),
            json_number(round_to(self.inference_ms as f32, 2)),
            self.memory_bytes
        )
        .into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_methods_and_unknown_paths() {
        assert_eq!(route("POST", "/predict"), Ok(Route::Predict));
        assert_eq!(route("POST", "/predict/"), Ok(Route::Predict));
        assert_eq!(route("GET", "/warm"), Ok(Route::Warm));
        assert_eq!(route("OPTIONS", "/predict"), Ok(Route::Preflight));
        let e = route("GET", "/predict").unwrap_err();
        assert_eq!(
            (e.status, e.code, e.allow),
            (405, "method_not_allowed", Some("POST"))
        );
        assert_eq!(route("POST", "/warm").unwrap_err().status, 405);
        assert_eq!(route("GET", "/nope").unwrap_err().status, 404);
        assert_eq!(route("GET", "/"), Ok(Route::Page));
        assert_eq!(route("POST", "/").unwrap_err().status, 405);
        assert_eq!(route("GET", "/examples/"), Ok(Route::Examples));
        assert_eq!(
            route("GET", "/examples/cat.JPG"),
            Ok(Route::Example("cat.JPG".into()))
        );
        for bad in [
            "/examples/../models/nanodet/model.onnx",
            "/examples/a/b.png",
            "/examples/.hidden.png",
            "/examples/model.onnx",
            "/examples/%2e%2e.png",
        ] {
            assert_eq!(route("GET", bad).unwrap_err().status, 404, "{bad}");
        }
    }

    #[test]
    fn example_lists_keep_only_photos_in_order() {
        assert_eq!(
            examples_json(["b.png", "model.onnx", "a.jpg", ".x.png", "c.jpeg"]),
            br#"["a.jpg","b.png","c.jpeg"]"#
        );
        assert_eq!(example_type("x.PNG"), Some("image/png"));
        assert_eq!(example_type("png"), None);
    }

    #[test]
    fn content_types_with_parameters_and_case() {
        assert_eq!(image_format(Some("image/jpeg")), Ok(Format::Jpeg));
        assert_eq!(
            image_format(Some("Image/PNG; charset=binary")),
            Ok(Format::Png)
        );
        for bad in [
            None,
            Some("image/gif"),
            Some("application/octet-stream"),
            Some(""),
        ] {
            let e = image_format(bad).unwrap_err();
            assert_eq!((e.status, e.code), (415, "unsupported_media_type"));
        }
    }

    #[test]
    fn content_length_limits() {
        assert_eq!(content_length(None), Ok(None));
        assert_eq!(content_length(Some("10")), Ok(Some(10)));
        assert_eq!(content_length(Some("5242881")).unwrap_err().status, 413);
        assert_eq!(content_length(Some("ten")).unwrap_err().status, 400);
    }

    #[test]
    fn body_buffer_stops_at_the_limit_and_refuses_empty() {
        let mut b = BodyBuffer::with_expected(None);
        b.push(&vec![0; MAX_BODY_BYTES - 1]).unwrap();
        b.push(&[0]).unwrap();
        assert_eq!(b.push(&[0]).unwrap_err().status, 413);
        assert_eq!(BodyBuffer::default().finish().unwrap_err().status, 400);
    }

    #[test]
    fn query_parameters() {
        let d = Settings::default();
        let f = predict_filter("", &d).unwrap();
        assert_eq!((f.threshold, f.max, f.classes), (0.35, 20, None));
        let f =
            predict_filter("threshold=0.5&max=3&classes=person,traffic%20light,Dog", &d).unwrap();
        assert_eq!(
            (f.threshold, f.max, f.classes),
            (0.5, 3, Some(vec![0, 9, 16]))
        );
        let f = predict_filter("classes=cell+phone", &d).unwrap();
        assert_eq!(f.classes, Some(vec![67]));
        for bad in [
            "threshold=2",
            "threshold=abc",
            "threshold=-0.1",
            "max=0",
            "max=1000",
            "max=1.5",
            "classes=unicorn",
            "classes=",
            "classes=%zz",
            "treshold=0.5",
            "max=3&max=4",
        ] {
            let e = predict_filter(bad, &d).unwrap_err();
            assert_eq!((e.status, e.code), (400, "invalid_parameter"), "{bad}");
        }
    }

    #[test]
    fn percent_escapes_are_two_hex_digits() {
        assert_eq!(percent_decode("a%2Cb%2c+c").unwrap(), "a,b, c");
        for bad in ["%+c", "%+9", "%-1", "% 1", "%1", "%"] {
            assert!(percent_decode(bad).is_err(), "{bad}");
        }
        // "%+c" would be a form feed, which the class list trims away.
        let e = predict_filter("classes=Dog%+c", &Settings::default()).unwrap_err();
        assert_eq!((e.status, e.code), (400, "invalid_parameter"));
    }

    #[test]
    fn json_strings_and_numbers_read_back() {
        for text in [
            "plain",
            "quote \" and \\ back",
            "tab\tnew\nline\r",
            "\u{1}\u{1f}",
            "é ✓",
        ] {
            let back: String = serde_json::from_str(&json_string(text)).unwrap();
            assert_eq!(back, text);
        }
        for v in [0.0, 512.0, 205.61, 0.736, -3.5, 1e-7, 123456.78] {
            let back: f64 = serde_json::from_str(&json_number(v)).unwrap();
            assert_eq!(back, v);
        }
        assert_eq!(json_number(512.0), "512.0");
        assert_eq!(json_number(f64::NAN), "null");
    }

    #[test]
    fn detection_json_shape_and_rounding() {
        let d = Detection {
            class: 4,
            score: 0.736_21,
            x1: 205.613,
            y1: 315.36,
            x2: 302.979,
            y2: 345.72,
        };
        assert_eq!(
            String::from_utf8(detections_json(&[d])).unwrap(),
            r#"[{"bbox":[{"x":205.61,"y":315.36},{"x":302.98,"y":345.72}],"class":"airplane","score":0.736}]"#
        );
        assert_eq!(detections_json(&[]), b"[]");
    }

    #[test]
    fn error_json_and_decode_error_statuses() {
        let e = ApiError::bad_request("the body is \"empty\"");
        assert_eq!(
            String::from_utf8(e.to_json()).unwrap(),
            r#"{"code":"bad_request","message":"the body is \"empty\""}"#
        );
        let bomb: ApiError = DecodeError::TooManyPixels {
            width: 1,
            height: 1,
        }
        .into();
        assert_eq!(bomb.status, 413);
        let corrupt: ApiError = DecodeError::Corrupt {
            format: Format::Png,
            reason: "x".into(),
        }
        .into();
        assert_eq!((corrupt.status, corrupt.code), (422, "invalid_image"));
    }
}
