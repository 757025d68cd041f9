//! The HTTP API as plain data: routes, content types, query parameters, body
//! limits, and the JSON of answers and errors. The component glues this to
//! the host's request and response types; everything here is host-free.

use crate::decode::{DecodeError, Format};
use crate::labels::Labels;
use crate::postprocess::{Detection, Filter};
use crate::settings;

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 5 * 1024 * 1024;

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Predict,
    Warm,
    /// The models this deployment serves.
    Models,
    /// The demo page.
    Page,
    /// The names of the example photos.
    Examples,
    /// One example photo, by file name.
    Example(String),
    /// A file of the models folder served as it is, for private mode (the
    /// detector running in the visitor's browser).
    File(StaticFile),
    /// A CORS preflight (`OPTIONS`) for one of the routes above.
    Preflight,
}

/// Where the example photos are served from, under the routes' root.
pub const EXAMPLES_PATH: &str = "/examples";

/// A file served from the models folder as it is: private mode's build
/// outputs (`GET /wasi-detect.js`, `GET /browser/<dir>/<file>`) or a served
/// model's own files (`GET /models/<name>/<file>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticFile {
    /// Its path under the models folder, e.g. `browser/3f2a/detector.js`.
    pub path: String,
    /// For a model's file, the model: it is served only when the deployment
    /// serves that model.
    pub model: Option<String>,
    pub content_type: &'static str,
    pub cache_control: &'static str,
}

/// For files whose name stays while their content changes: kept, but asked
/// about again every time, so a second visit revalidates (a 304 with the
/// same ETag) and downloads nothing.
pub const REVALIDATE: &str = "no-cache";
/// For private mode's build outputs: their folder is named by a hash of
/// their contents, so a name never changes content.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
const PLAIN_TEXT: &str = "text/plain; charset=utf-8";
const BYTES: &str = "application/octet-stream";

impl StaticFile {
    /// The 404 for a file the models folder does not have at `full_path`,
    /// saying what makes it.
    pub fn missing(&self, full_path: &str) -> ApiError {
        let message = match &self.model {
            Some(model) => format!("model '{model}' has no {full_path} in this deployment"),
            None => format!("{full_path} is missing: `make setup` builds the browser files"),
        };
        ApiError::new(404, "not_found", message)
    }
}

/// A failed request: HTTP status, a stable machine-readable code and a
/// sentence for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// Methods the route takes, for the `allow` header of a 405.
    pub allow: Option<&'static str>,
    /// The models there are, for a `model_not_found`.
    pub available: Option<Vec<String>>,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            allow: None,
            available: None,
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

    /// A model this deployment does not serve; `available` are those it does.
    pub fn model_not_found(name: &str, available: Vec<String>) -> Self {
        ApiError {
            available: Some(available.clone()),
            ..ApiError::new(
                404,
                "model_not_found",
                format!(
                    "there is no model '{name}'; this deployment serves {} (GET /models describes them)",
                    available.join(", ")
                ),
            )
        }
    }

    pub fn inference_failed(message: impl Into<String>) -> Self {
        ApiError::new(500, "inference_failed", message)
    }

    pub fn invalid_setting(e: &settings::SettingError) -> Self {
        ApiError::new(500, "invalid_setting", e.to_string())
    }

    /// `{"code": ..., "message": ...}`, and `"available": [...]` with a
    /// `model_not_found`.
    pub fn to_json(&self) -> Vec<u8> {
        let available = match &self.available {
            Some(names) => format!(r#","available":{}"#, json_strings(names)),
            None => String::new(),
        };
        format!(
            r#"{{"code":{},"message":{}{available}}}"#,
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

/// A JSON array of strings.
fn json_strings<S: AsRef<str>>(items: &[S]) -> String {
    let items: Vec<String> = items.iter().map(|s| json_string(s.as_ref())).collect();
    format!("[{}]", items.join(","))
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
            format!(
                "no route {path}; the API has POST /predict, GET /warm, GET /models, the page at GET /, \
                 its example photos at GET /examples/<name>, and the files of private mode at \
                 GET /wasi-detect.js, GET /browser/<dir>/<file> and GET /models/<name>/<file>"
            ),
        )
    };
    let (route, allowed) = match path {
        "/predict" => (Route::Predict, "POST"),
        "/warm" => (Route::Warm, "GET"),
        "/models" => (Route::Models, "GET"),
        "/" => (Route::Page, "GET"),
        EXAMPLES_PATH => (Route::Examples, "GET"),
        _ => {
            let example = path
                .strip_prefix(EXAMPLES_PATH)
                .and_then(|rest| rest.strip_prefix('/'))
                .filter(|name| example_type(name).is_some())
                .map(|name| Route::Example(name.to_string()));
            let route = example
                .or_else(|| static_file(path).map(Route::File))
                .ok_or_else(not_found)?;
            (route, "GET")
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

/// Whether `name` is a plain file or folder name: ASCII letters, digits,
/// `.`, `-` and `_`, not empty and not hidden. No `/`, `%` or `..` can pass,
/// so a name from a path never leaves the folder it is looked up in.
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The two plain names of `<a>/<b>`, and nothing deeper.
fn two_plain_names(rest: &str) -> Option<(&str, &str)> {
    let (a, b) = rest.split_once('/')?;
    (plain_name(a) && plain_name(b)).then_some((a, b))
}

/// The file of the models folder `path` asks for, if it is one of private
/// mode's routes:
/// - `/wasi-detect.js`: `browser/wasi-detect.js`, the stable entry module
///   pages import (revalidated);
/// - `/browser/<dir>/<file>`: a build output in its content-addressed
///   folder (immutable), of a type a page loads;
/// - `/models/<name>/<file>`: a model's weights, manifest or labels
///   (revalidated), for the browser to run it itself.
fn static_file(path: &str) -> Option<StaticFile> {
    let (path, model, content_type, cache_control) = if path == "/wasi-detect.js" {
        (
            "browser/wasi-detect.js".to_string(),
            None,
            JAVASCRIPT,
            REVALIDATE,
        )
    } else if let Some(rest) = path.strip_prefix("/browser/") {
        let (dir, file) = two_plain_names(rest)?;
        let (_, ext) = file.rsplit_once('.')?;
        let content_type = match ext.to_ascii_lowercase().as_str() {
            "js" | "mjs" => JAVASCRIPT,
            "wasm" => "application/wasm",
            "json" => "application/json",
            "onnx" => BYTES,
            "txt" => PLAIN_TEXT,
            "css" => "text/css",
            _ => return None,
        };
        (
            format!("browser/{dir}/{file}"),
            None,
            content_type,
            IMMUTABLE,
        )
    } else {
        let (name, file) = two_plain_names(path.strip_prefix("/models/")?)?;
        let content_type = match file {
            "model.onnx" => BYTES,
            "manifest.json" => "application/json",
            "labels.txt" => PLAIN_TEXT,
            _ => return None,
        };
        let model = Some(name.to_string());
        (format!("{name}/{file}"), model, content_type, REVALIDATE)
    };
    Some(StaticFile {
        path,
        model,
        content_type,
        cache_control,
    })
}

/// How a file's bytes are sent: as they are, or the gzip file the build
/// wrote beside it (`<file>.gz`), with `content-encoding: gzip`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Identity,
    Gzip,
}

/// A file's ETag from the length and modification time (nanoseconds since
/// the Unix epoch, which fit 64 bits until 2554) of the file sent, which the
/// file system keeps: no hashing of its bytes in every request, and a
/// rebuilt file gets a new one. The gzip file's tag ends in `-gz`, so it
/// never names the plain file's bytes.
pub fn etag(len: u64, modified_nanos: u64, coding: Coding) -> String {
    let suffix = match coding {
        Coding::Identity => "",
        Coding::Gzip => "-gz",
    };
    format!("\"{len:x}-{modified_nanos:x}{suffix}\"")
}

/// Whether a request's `accept-encoding` lets a file be sent gzipped (RFC
/// 9110, 12.5.3): `gzip` (or `x-gzip`), else `*`, with a weight above 0, and
/// `identity` (else `*`) not preferred to it. Codings are case-insensitive;
/// a coding listed twice counts with its lowest weight; an item with a
/// malformed weight or another parameter counts as absent. Without the
/// header, or with an empty one, the file is sent as it is.
pub fn accepts_gzip(accept_encoding: Option<&str>) -> bool {
    let (mut gzip, mut identity, mut any) = (None, None, None);
    for item in accept_encoding.unwrap_or("").split(',') {
        let (coding, weight) = match item.split_once(';') {
            Some((coding, params)) => (coding, weight(params)),
            None => (item, Some(1000)),
        };
        let Some(weight) = weight else {
            continue;
        };
        let coding = coding.trim();
        let is = |name: &str| coding.eq_ignore_ascii_case(name);
        let listed = if is("gzip") || is("x-gzip") {
            &mut gzip
        } else if is("identity") {
            &mut identity
        } else if is("*") {
            &mut any
        } else {
            continue;
        };
        *listed = Some(listed.map_or(weight, |w: u16| w.min(weight)));
    }
    let gzip = gzip.or(any).unwrap_or(0);
    gzip > 0 && identity.or(any).is_none_or(|identity| gzip >= identity)
}

/// The weight of an `accept-encoding` item from its parameters (after its
/// `;`), in thousandths (`q=0.5` is 500), if they are a `q` whose value is a
/// qvalue: `0` to `1` with up to three decimals.
fn weight(params: &str) -> Option<u16> {
    let (name, value) = params.split_once('=')?;
    if !name.trim().eq_ignore_ascii_case("q") {
        return None;
    }
    let (&whole, rest) = value.trim().as_bytes().split_first()?;
    let decimals = match rest {
        [] => rest,
        [b'.', decimals @ ..] if decimals.len() <= 3 => decimals,
        _ => return None,
    };
    // "5" is 500 thousandths, "05" 50.
    let mut thousandths = 0;
    for i in 0..3 {
        let digit = decimals.get(i).copied().unwrap_or(b'0');
        if !digit.is_ascii_digit() {
            return None;
        }
        thousandths = thousandths * 10 + u16::from(digit - b'0');
    }
    match whole {
        b'0' => Some(thousandths),
        b'1' if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// Whether an `if-none-match` header names `etag` (or is `*`): then the
/// client's copy is current. It is a list; a weak tag (`W/"..."`) matches
/// by its value, as RFC 9110's weak comparison for this header says.
pub fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    fn opaque(tag: &str) -> &str {
        let tag = tag.trim();
        tag.strip_prefix("W/").unwrap_or(tag)
    }
    if_none_match
        .split(',')
        .map(opaque)
        .any(|tag| tag == "*" || tag == opaque(etag))
}

/// The media type of an example photo's file name, if it is one: a plain
/// name (no path, not hidden) ending in `.jpg`, `.jpeg` or `.png`.
pub fn example_type(name: &str) -> Option<&'static str> {
    let plain = plain_name(name);
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
    json_strings(&names).into_bytes()
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

/// How `/predict` writes the detections (`format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerFormat {
    /// Ours: `{"bbox": [{"x", "y"}, {"x", "y"}], "class", "score"}`.
    Detect,
    /// Hugging Face's object-detection pipeline's, which Cloudflare Workers
    /// AI answers too: `{"score", "label", "box": {"xmin", "ymin", "xmax",
    /// "ymax"}}`.
    HuggingFace,
}

/// A `/predict` query, before it is checked against the model it names.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictQuery {
    pub model: Option<String>,
    pub threshold: Option<f32>,
    pub max: Option<usize>,
    /// Class names, as given.
    pub classes: Option<Vec<String>>,
    pub format: AnswerFormat,
}

/// The decoded `name=value` pairs of a query; empty pairs are skipped, a
/// repeated name is a 400.
fn query_pairs(query: &str) -> Result<Vec<(String, String)>, ApiError> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode(raw_key)?;
        let value = percent_decode(raw_value)?;
        if pairs.iter().any(|(k, _)| *k == key) {
            return Err(ApiError::invalid_parameter(format!(
                "'{key}' is given more than once"
            )));
        }
        pairs.push((key, value));
    }
    Ok(pairs)
}

/// The `/predict` query: `model`, `threshold`, `max`, `classes`, `format`.
pub fn predict_query(query: &str) -> Result<PredictQuery, ApiError> {
    let mut q = PredictQuery {
        model: None,
        threshold: None,
        max: None,
        classes: None,
        format: AnswerFormat::Detect,
    };
    for (key, value) in query_pairs(query)? {
        let bad = |m: String| ApiError::invalid_parameter(format!("{key}: {m}"));
        match key.as_str() {
            "model" => q.model = Some(value),
            "threshold" => q.threshold = Some(settings::threshold(&value).map_err(bad)?),
            "max" => q.max = Some(settings::max_detections(&value).map_err(bad)?),
            "classes" => q.classes = Some(class_names(&value)?),
            "format" => {
                q.format = match value.as_str() {
                    "detect" => AnswerFormat::Detect,
                    "hf" => AnswerFormat::HuggingFace,
                    _ => return Err(bad(format!("'{value}' is not a format: detect (the default) or hf"))),
                }
            }
            _ => {
                return Err(ApiError::invalid_parameter(format!(
                    "unknown query parameter '{key}'; /predict takes model, threshold, max, classes and format"
                )))
            }
        }
    }
    Ok(q)
}

/// The `/warm` query: the model to warm, if not the default.
pub fn warm_query(query: &str) -> Result<Option<String>, ApiError> {
    let mut model = None;
    for (key, value) in query_pairs(query)? {
        match key.as_str() {
            "model" => model = Some(value),
            _ => {
                return Err(ApiError::invalid_parameter(format!(
                    "unknown query parameter '{key}'; /warm takes model"
                )))
            }
        }
    }
    Ok(model)
}

impl PredictQuery {
    /// What to keep of a model's detections: the query's values over the
    /// defaults, its class names looked up in the model's labels.
    pub fn filter(&self, labels: &Labels, threshold: f32, max: usize) -> Result<Filter, ApiError> {
        let classes = match &self.classes {
            None => None,
            Some(names) => Some(
                names
                    .iter()
                    .map(|n| {
                        labels.id(n).ok_or_else(|| {
                            ApiError::invalid_parameter(format!(
                                "classes: '{n}' is not a class of the model (e.g. {})",
                                labels.examples(4).join(", ")
                            ))
                        })
                    })
                    .collect::<Result<_, _>>()?,
            ),
        };
        Ok(Filter {
            threshold: self.threshold.unwrap_or(threshold),
            max: self.max.unwrap_or(max),
            classes,
        })
    }
}

/// The names of a `classes` list: comma-separated, at least one.
fn class_names(list: &str) -> Result<Vec<String>, ApiError> {
    let names: Vec<String> = list
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect();
    if names.is_empty() {
        return Err(ApiError::invalid_parameter(
            "classes: give one or more class names, comma-separated",
        ));
    }
    Ok(names)
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

/// The detections as JSON, best first, corners to 0.01 px and scores to
/// 0.001, in `format`:
/// - ours: `[{"bbox":[{"x":..,"y":..},{"x":..,"y":..}],"class":..,"score":..}, ...]`;
/// - Hugging Face's: `[{"score":..,"label":..,"box":{"xmin":..,"ymin":..,"xmax":..,"ymax":..}}, ...]`.
pub fn detections_json(detections: &[Detection], labels: &Labels, format: AnswerFormat) -> Vec<u8> {
    let n = |v: f32, decimals| json_number(round_to(v, decimals));
    let items: Vec<String> = detections
        .iter()
        .map(|d| {
            let (class, score) = (json_string(&labels.name(d.class)), n(d.score, 3));
            let [x1, y1, x2, y2] = [d.x1, d.y1, d.x2, d.y2].map(|v| n(v, 2));
            match format {
                AnswerFormat::Detect => format!(
                    r#"{{"bbox":[{{"x":{x1},"y":{y1}}},{{"x":{x2},"y":{y2}}}],"class":{class},"score":{score}}}"#
                ),
                AnswerFormat::HuggingFace => format!(
                    r#"{{"score":{score},"label":{class},"box":{{"xmin":{x1},"ymin":{y1},"xmax":{x2},"ymax":{y2}}}}}"#
                ),
            }
        })
        .collect();
    format!("[{}]", items.join(",")).into_bytes()
}

/// A served model as `GET /models` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSummary {
    pub name: String,
    /// What it is, or why it cannot be used.
    pub model: Result<ModelFacts, String>,
}

/// What a client needs to know of a model to call it.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelFacts {
    pub family: &'static str,
    pub input_size: u32,
    pub classes: usize,
    /// The default `threshold` of `/predict` with this model.
    pub threshold: f32,
}

/// `{"default": ..., "models": [{"name", "family", "input_size", "classes",
/// "threshold"} or {"name", "error"}, ...]}`.
pub fn models_json(default: &str, models: &[ModelSummary]) -> Vec<u8> {
    let items: Vec<String> = models
        .iter()
        .map(|m| match &m.model {
            Ok(f) => format!(
                r#"{{"name":{},"family":{},"input_size":{},"classes":{},"threshold":{}}}"#,
                json_string(&m.name),
                json_string(f.family),
                f.input_size,
                f.classes,
                json_number(round_to(f.threshold, 3))
            ),
            Err(e) => format!(
                r#"{{"name":{},"error":{}}}"#,
                json_string(&m.name),
                json_string(e)
            ),
        })
        .collect();
    format!(
        r#"{{"default":{},"models":[{}]}}"#,
        json_string(default),
        items.join(",")
    )
    .into_bytes()
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
        assert_eq!(route("GET", "/models"), Ok(Route::Models));
        assert_eq!(route("POST", "/models").unwrap_err().status, 405);
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

    /// The file a GET of `path` serves: (path under the models folder,
    /// model, content type, cache-control).
    fn file(path: &str) -> (String, Option<String>, &'static str, &'static str) {
        match route("GET", path) {
            Ok(Route::File(f)) => (f.path, f.model, f.content_type, f.cache_control),
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn private_modes_files_and_their_types() {
        let js = "text/javascript; charset=utf-8";
        assert_eq!(
            file("/wasi-detect.js"),
            ("browser/wasi-detect.js".into(), None, js, REVALIDATE)
        );
        for (name, content_type) in [
            ("detector.js", js),
            ("ort.wasm.min.mjs", js),
            ("detector.core.wasm", "application/wasm"),
            ("Ort-Wasm_SIMD.WASM", "application/wasm"),
            ("x.json", "application/json"),
            ("x.onnx", "application/octet-stream"),
            ("x.txt", "text/plain; charset=utf-8"),
            ("x.css", "text/css"),
        ] {
            assert_eq!(
                file(&format!("/browser/3f2a9c/{name}")),
                (
                    format!("browser/3f2a9c/{name}"),
                    None,
                    content_type,
                    IMMUTABLE
                )
            );
        }
        for (name, content_type) in [
            ("model.onnx", "application/octet-stream"),
            ("manifest.json", "application/json"),
            ("labels.txt", "text/plain; charset=utf-8"),
        ] {
            assert_eq!(
                file(&format!("/models/centernet/{name}")),
                (
                    format!("centernet/{name}"),
                    Some("centernet".into()),
                    content_type,
                    REVALIDATE
                )
            );
        }
        // The list of models is still the list.
        assert_eq!(route("GET", "/models/"), Ok(Route::Models));
        for bad in [
            "/browser/../x",
            "/browser/a/b/c.js",
            "/browser/.x/y.js",
            "/browser/a/.y.js",
            "/browser/%2e%2e/x.js",
            "/browser/a/%2e%2e.js",
            "/browser/a//x.js",
            "/browser//x.js",
            "/browser/x.js",
            "/browser/a/x.html",
            "/browser/a/x",
            "/browser/wasi-detect.js",
            "/wasi-detect.mjs",
            "/models/nanodet/model.xml",
            "/models/nanodet/../examples/camera.png",
            "/models/../nanodet/model.onnx",
            "/models/.nanodet/model.onnx",
            "/models/%2e%2e/model.onnx",
            "/models/a/b/model.onnx",
            "/models/model.onnx",
        ] {
            let e = route("GET", bad).unwrap_err();
            assert_eq!((e.status, e.code), (404, "not_found"), "{bad}");
        }
        for path in [
            "/wasi-detect.js",
            "/browser/a/b.js",
            "/models/nanodet/labels.txt",
        ] {
            let e = route("POST", path).unwrap_err();
            assert_eq!((e.status, e.allow), (405, Some("GET")), "{path}");
            assert_eq!(route("OPTIONS", path), Ok(Route::Preflight));
        }
    }

    #[test]
    fn missing_files_say_what_builds_them() {
        let Ok(Route::File(f)) = route("GET", "/wasi-detect.js") else {
            panic!()
        };
        let e = f.missing("/models/browser/wasi-detect.js");
        assert_eq!((e.status, e.code), (404, "not_found"));
        assert!(
            e.message.contains("/models/browser/wasi-detect.js")
                && e.message.contains("make setup"),
            "{}",
            e.message
        );
        let Ok(Route::File(f)) = route("GET", "/models/nanodet-ov/model.onnx") else {
            panic!()
        };
        let e = f.missing("/models/nanodet-ov/model.onnx");
        assert!(e.message.contains("'nanodet-ov'"), "{}", e.message);
    }

    #[test]
    fn etags_and_if_none_match() {
        let tag = etag(8_123_456, 1_700_000_000_123_456_789, Coding::Identity);
        assert_eq!(tag, "\"7bf440-17979cfe3d85cd15\"");
        assert_ne!(
            tag,
            etag(8_123_456, 1_700_000_000_123_456_790, Coding::Identity)
        );
        assert_ne!(
            tag,
            etag(8_123_457, 1_700_000_000_123_456_789, Coding::Identity)
        );
        let gz = etag(8_123_456, 1_700_000_000_123_456_789, Coding::Gzip);
        assert_eq!(gz, "\"7bf440-17979cfe3d85cd15-gz\"");
        assert!(!etag_matches(&gz, &tag) && !etag_matches(&tag, &gz));
        assert!(etag_matches(&format!("\"x\", {gz}"), &gz));
        for header in [
            tag.as_str(),
            "*",
            " * ",
            "W/\"7bf440-17979cfe3d85cd15\"",
            "\"other\", \"7bf440-17979cfe3d85cd15\"",
            "\"a\",W/\"7bf440-17979cfe3d85cd15\" ,\"b\"",
        ] {
            assert!(etag_matches(header, &tag), "{header}");
        }
        for header in [
            "",
            "\"other\"",
            "7bf440-17979cfe3d85cd15",
            "\"7bf440\"",
            "\"7bf440-17979cfe3d85cd15\"x",
        ] {
            assert!(!etag_matches(header, &tag), "{header}");
        }
    }

    #[test]
    fn accept_encoding_says_whether_gzip_may_be_sent() {
        for header in [
            "gzip",
            "gzip, br",
            "gzip, deflate, br, zstd",
            "br;q=1.0, gzip;q=0.8, *;q=0.1",
            "GZIP",
            " gzip ; q=0.001 ",
            "gzip;Q=1",
            "gzip;q=1.000",
            "gzip;q=0.5",
            "x-gzip",
            "*",
            "br, *;q=0.5",
            "gzip;q=0.5, identity;q=0.5",
            "identity;q=0.5, gzip",
            "gzip;q=1, identity;q=0",
            "br;q=oops, gzip",
            "identity;q=2, gzip",
            "deflate,gzip",
        ] {
            assert!(accepts_gzip(Some(header)), "{header:?}");
        }
        for header in [
            "",
            " ",
            "identity",
            "br",
            "br, deflate",
            "gzip;q=0",
            "gzip;q=0.0",
            "gzip;q=0.000",
            "gzip; q=0, *",
            "*;q=0",
            "*;q=0, identity",
            "gzip, gzip;q=0",
            "gzip;q=0.5, identity",
            "gzip;q=0.5, *",
            "gzip;q=0.4, identity;q=0.5",
            "gzips",
            "gzip;q=",
            "gzip;q=2",
            "gzip;q=1.5",
            "gzip;q=0.0001",
            "gzip;q=.5",
            "gzip;q=0.5x",
            "gzip;q=-0",
            "gzip;level=9",
            "gzip;q=1;q=1",
            "gzip;",
            "gzip/1",
        ] {
            assert!(!accepts_gzip(Some(header)), "{header:?}");
        }
        assert!(!accepts_gzip(None));
    }

    #[test]
    fn weights_are_thousandths() {
        for (param, thousandths) in [
            ("q=1", 1000),
            ("q=1.", 1000),
            ("q=0", 0),
            ("q=0.5", 500),
            ("q=0.05", 50),
            ("q=0.005", 5),
            ("q=0.123", 123),
            (" Q = 0.9 ", 900),
        ] {
            assert_eq!(weight(param), Some(thousandths), "{param}");
        }
        for param in [
            "q=1.001",
            "q=01",
            "q=",
            "q",
            "",
            "x=1",
            "q=0.1234",
            "q=1e0",
            "q=0.5;q=1",
        ] {
            assert_eq!(weight(param), None, "{param}");
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

    fn coco() -> Labels {
        Labels::parse(include_str!("../models/nanodet/labels.txt"))
    }

    /// The filter of a query against the COCO labels, defaults 0.35 and 20.
    fn filter(query: &str) -> Result<Filter, ApiError> {
        predict_query(query)?.filter(&coco(), 0.35, 20)
    }

    #[test]
    fn query_parameters() {
        let f = filter("").unwrap();
        assert_eq!((f.threshold, f.max, f.classes), (0.35, 20, None));
        let f = filter("threshold=0.5&max=3&classes=person,traffic%20light,Dog").unwrap();
        assert_eq!(
            (f.threshold, f.max, f.classes),
            (0.5, 3, Some(vec![0, 9, 16]))
        );
        let f = filter("classes=cell+phone").unwrap();
        assert_eq!(f.classes, Some(vec![67]));
        let q = predict_query("model=centernet&format=hf").unwrap();
        assert_eq!(
            (q.model.as_deref(), q.format),
            (Some("centernet"), AnswerFormat::HuggingFace)
        );
        assert_eq!(
            predict_query("format=detect").unwrap().format,
            AnswerFormat::Detect
        );
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
            "model=a&model=b",
            "format=json",
        ] {
            let e = filter(bad).unwrap_err();
            assert_eq!((e.status, e.code), (400, "invalid_parameter"), "{bad}");
        }
        // An unknown class is told with the model's own names.
        let e = filter("classes=unicorn").unwrap_err();
        assert!(e.message.contains("person, bicycle"), "{}", e.message);
        let few = Labels::parse("cat\ndog\n");
        let e = predict_query("classes=person")
            .unwrap()
            .filter(&few, 0.2, 20)
            .unwrap_err();
        assert!(e.message.contains("(e.g. cat, dog)"), "{}", e.message);
    }

    #[test]
    fn warm_takes_a_model_only() {
        assert_eq!(warm_query(""), Ok(None));
        assert_eq!(warm_query("model=centernet"), Ok(Some("centernet".into())));
        for bad in ["threshold=0.5", "model=a&model=b", "model=%zz"] {
            assert_eq!(warm_query(bad).unwrap_err().status, 400, "{bad}");
        }
    }

    #[test]
    fn percent_escapes_are_two_hex_digits() {
        assert_eq!(percent_decode("a%2Cb%2c+c").unwrap(), "a,b, c");
        for bad in ["%+c", "%+9", "%-1", "% 1", "%1", "%"] {
            assert!(percent_decode(bad).is_err(), "{bad}");
        }
        // "%+c" would be a form feed, which the class list trims away.
        let e = filter("classes=Dog%+c").unwrap_err();
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
        let json = |format| String::from_utf8(detections_json(&[d], &coco(), format)).unwrap();
        assert_eq!(
            json(AnswerFormat::Detect),
            r#"[{"bbox":[{"x":205.61,"y":315.36},{"x":302.98,"y":345.72}],"class":"airplane","score":0.736}]"#
        );
        assert_eq!(
            json(AnswerFormat::HuggingFace),
            r#"[{"score":0.736,"label":"airplane","box":{"xmin":205.61,"ymin":315.36,"xmax":302.98,"ymax":345.72}}]"#
        );
        assert_eq!(
            detections_json(&[], &coco(), AnswerFormat::HuggingFace),
            b"[]"
        );
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
        let missing = ApiError::model_not_found("yolo", vec!["centernet".into(), "nanodet".into()]);
        assert_eq!(missing.status, 404);
        let json: serde_json::Value = serde_json::from_slice(&missing.to_json()).unwrap();
        assert_eq!(json["code"], "model_not_found");
        assert_eq!(
            json["available"],
            serde_json::json!(["centernet", "nanodet"])
        );
        assert!(
            json["message"].as_str().unwrap().contains("'yolo'"),
            "{json}"
        );
    }

    #[test]
    fn the_model_list() {
        let models = [
            ModelSummary {
                name: "centernet".into(),
                model: Ok(ModelFacts {
                    family: "centernet",
                    input_size: 512,
                    classes: 80,
                    threshold: 0.2,
                }),
            },
            ModelSummary {
                name: "broken".into(),
                model: Err("/models/broken/manifest.json: threshold: is missing".into()),
            },
        ];
        assert_eq!(
            String::from_utf8(models_json("nanodet", &models)).unwrap(),
            r#"{"default":"nanodet","models":[{"name":"centernet","family":"centernet","input_size":512,"classes":80,"threshold":0.2},{"name":"broken","error":"/models/broken/manifest.json: threshold: is missing"}]}"#
        );
    }
}
