//! Files served from the models folder as they are: private mode's build
//! outputs, a served model's own files and the example photos. Their paths,
//! content types and caching, their ETags, and whether a client takes them
//! gzipped.

use super::answers::json_strings;
use super::error::ApiError;

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
pub(super) fn static_file(path: &str) -> Option<StaticFile> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{route, Route};

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
}
