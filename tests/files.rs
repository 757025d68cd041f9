//! The files of private mode (the detector running in the visitor's
//! browser), served from the models folder by the real server: private
//! mode's build outputs (`GET /wasi-detect.js`, `GET /browser/<dir>/<file>`)
//! and the served models' own files (`GET /models/<name>/<file>`), with
//! their types, caching, ETags and the headers a cross-origin isolated page
//! needs; the gzip file the build writes beside each, sent to clients that
//! take gzip; and the page itself, cross-origin isolated.

mod common;

use common::{Request, Response, Server, ServerConfig, TempModels};
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use serde_json::json;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

const JS: &str = "text/javascript; charset=utf-8";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// A models folder with NanoDet's and CenterNet's files and a build of
/// private mode, and a server serving it.
fn setup() -> &'static (TempModels, Server) {
    static SETUP: OnceLock<(TempModels, Server)> = OnceLock::new();
    SETUP.get_or_init(|| {
        let models = TempModels::new("files");
        let files = ["manifest.json", "labels.txt", "model.onnx"];
        models.model_from("nanodet", "nanodet", &files);
        models.model_from("centernet", "centernet", &files);
        // A model folder that is not served.
        models.model_from("other", "nanodet", &files);
        let photo = std::fs::read(common::fixture("camera.png")).unwrap();
        models.write("examples/camera.png", photo);
        models
            .write(
                "browser/wasi-detect.js",
                "export * from './abc123/detector.js';\n",
            )
            .write("browser/abc123/detector.js", "export const ready = true;\n")
            .write("browser/abc123/x.wasm", b"\0asm\x01\0\0\0")
            .write("browser/abc123/ort.wasm.min.mjs", "export default 1;\n")
            .write("browser/abc123/notes.html", "<p>not a type served</p>")
            .write("browser/abc123/.hidden.js", "hidden")
            .write("browser/abc123/deeper/y.js", "too deep")
            // A .gz without its file is never served.
            .write("browser/abc123/only.js.gz", gzip(b"export {};\n"));
        // The build's .gz files, written after their files (x.wasm has none;
        // the model's is in a test of its own, whose folder is removed after).
        for file in [
            "browser/wasi-detect.js",
            "browser/abc123/detector.js",
            "nanodet/labels.txt",
        ] {
            write_gz(&models.0.join(file));
        }
        let server = Server::start(ServerConfig {
            preload: false,
            models: Some(models.0.clone()),
            env: vec![("WASI_DETECT_MODELS".into(), "nanodet,centernet".into())],
            ..ServerConfig::default()
        });
        (models, server)
    })
}

fn get(path: &str) -> Response {
    setup().1.request(Request::get(path))
}

fn file_bytes(path: &str) -> Vec<u8> {
    std::fs::read(setup().0 .0.join(path)).unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    // The fastest level: the tests are about serving, not the ratio.
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn gunzip(bytes: &[u8], what: &str) -> Vec<u8> {
    let mut out = Vec::new();
    GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap_or_else(|e| panic!("{what}: the body is not gzip: {e}"));
    out
}

/// Writes `<file>.gz` beside `file`, as the build does.
fn write_gz(file: &Path) {
    let mut gz = file.as_os_str().to_owned();
    gz.push(".gz");
    std::fs::write(gz, gzip(&std::fs::read(file).unwrap())).unwrap();
}

/// Sets a file's modification time.
fn set_modified(file: &Path, time: SystemTime) {
    let f = std::fs::File::options().write(true).open(file).unwrap();
    f.set_modified(time).unwrap();
}

fn get_gzip(path: &str, accept_encoding: &str) -> Response {
    setup()
        .1
        .request(Request::get(path).header("accept-encoding", accept_encoding))
}

/// Checks the headers every served file carries, and returns its ETag.
fn assert_file_headers(r: &Response, what: &str) -> String {
    for (name, value) in [
        ("access-control-allow-origin", "*"),
        ("cross-origin-resource-policy", "cross-origin"),
        ("cross-origin-embedder-policy", "require-corp"),
        ("x-content-type-options", "nosniff"),
        ("vary", "accept-encoding"),
    ] {
        assert_eq!(r.header(name), Some(value), "{what}: {name}");
    }
    let etag = r
        .header("etag")
        .unwrap_or_else(|| panic!("{what}: no etag"));
    assert!(
        etag.len() > 4 && etag.starts_with('"') && etag.ends_with('"'),
        "{what}: {etag}"
    );
    etag.to_string()
}

/// A GET of `path` answers the file at `file` (under the models folder)
/// whole, with its type and cache-control; a second GET with its ETag is a
/// 304 without a body.
fn assert_served(path: &str, file: &str, content_type: &str, cache_control: &str) {
    let r = get(path);
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    assert_eq!(r.header("content-encoding"), None, "{path}");
    assert_eq!(r.header("content-type"), Some(content_type), "{path}");
    assert_eq!(r.header("cache-control"), Some(cache_control), "{path}");
    let bytes = file_bytes(file);
    assert_eq!(
        r.header("content-length"),
        Some(bytes.len().to_string().as_str()),
        "{path}"
    );
    assert!(r.body == bytes, "{path}: the body is not the file's bytes");
    let etag = assert_file_headers(&r, path);
    // The same file, the same tag.
    assert_eq!(get(path).header("etag"), Some(etag.as_str()), "{path}");

    let weak = format!("W/{etag}");
    for tags in [etag.as_str(), "*", &weak, &format!("\"other\", {etag}")] {
        let again = setup()
            .1
            .request(Request::get(path).header("if-none-match", tags));
        assert_eq!(again.status, 304, "{path} with if-none-match: {tags}");
        assert!(again.body.is_empty(), "{path}: a 304 has no body");
        assert_eq!(again.header("etag"), Some(etag.as_str()), "{path}");
        assert_eq!(again.header("cache-control"), Some(cache_control), "{path}");
        assert_file_headers(&again, path);
    }
    let stale = setup()
        .1
        .request(Request::get(path).header("if-none-match", "\"stale\""));
    assert_eq!(stale.status, 200, "{path}");
    assert!(stale.body == bytes, "{path}");
}

#[test]
fn the_entry_module_is_revalidated() {
    assert_served("/wasi-detect.js", "browser/wasi-detect.js", JS, "no-cache");
}

#[test]
fn a_rebuilt_entry_module_gets_a_new_etag() {
    let models = TempModels::new("files-rebuilt");
    models.model_from("nanodet", "nanodet", &["manifest.json", "labels.txt"]);
    models.write(
        "browser/wasi-detect.js",
        "export * from './aaa/detector.js';\n",
    );
    let s = Server::start(ServerConfig {
        preload: false,
        models: Some(models.0.clone()),
        ..ServerConfig::default()
    });
    let first = s.request(Request::get("/wasi-detect.js"));
    let etag = first.header("etag").expect("an etag").to_string();
    // The build writes the module again, naming its new hash folder.
    let rebuilt = "export * from './bbbbbb/detector.js';\n";
    models.write("browser/wasi-detect.js", rebuilt);
    let r = s.request(Request::get("/wasi-detect.js").header("if-none-match", &etag));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), rebuilt);
    assert_ne!(r.header("etag"), Some(etag.as_str()));
}

#[test]
fn build_outputs_are_immutable_with_their_types() {
    assert_served(
        "/browser/abc123/detector.js",
        "browser/abc123/detector.js",
        JS,
        IMMUTABLE,
    );
    assert_served(
        "/browser/abc123/ort.wasm.min.mjs",
        "browser/abc123/ort.wasm.min.mjs",
        JS,
        IMMUTABLE,
    );
    assert_served(
        "/browser/abc123/x.wasm",
        "browser/abc123/x.wasm",
        "application/wasm",
        IMMUTABLE,
    );
}

#[test]
fn served_models_files_are_revalidated_and_byte_identical() {
    // NanoDet's weights: several MB, streamed.
    assert!(file_bytes("nanodet/model.onnx").len() > 4_000_000);
    for model in ["nanodet", "centernet"] {
        for (file, content_type) in [
            ("model.onnx", "application/octet-stream"),
            ("manifest.json", "application/json"),
            ("labels.txt", "text/plain; charset=utf-8"),
        ] {
            assert_served(
                &format!("/models/{model}/{file}"),
                &format!("{model}/{file}"),
                content_type,
                "no-cache",
            );
        }
    }
    // The list of models is unchanged beside them.
    let list = get("/models");
    assert_eq!(list.status, 200, "{}", list.text());
    let names: Vec<String> = list.json()["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["nanodet", "centernet"]);
}

/// With `accept-encoding: gzip, br`, `path` is answered with the `.gz`
/// beside `file`: its bytes and length, `content-encoding: gzip`, the file's
/// type and cache-control, an ETag of its own; the same file, decompressed.
/// Returns that ETag.
fn assert_gzipped(path: &str, file: &str, content_type: &str, cache_control: &str) -> String {
    let r = get_gzip(path, "gzip, br");
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    assert_eq!(r.header("content-encoding"), Some("gzip"), "{path}");
    assert_eq!(r.header("content-type"), Some(content_type), "{path}");
    assert_eq!(r.header("cache-control"), Some(cache_control), "{path}");
    let gz = file_bytes(&format!("{file}.gz"));
    assert_eq!(
        r.header("content-length"),
        Some(gz.len().to_string().as_str()),
        "{path}"
    );
    assert!(r.body == gz, "{path}: the body is not the .gz file's bytes");
    assert!(
        gunzip(&r.body, path) == file_bytes(file),
        "{path}: the body does not decompress to the file"
    );
    let etag = assert_file_headers(&r, path);
    assert!(etag.ends_with("-gz\""), "{path}: {etag}");
    // The plain file's tag is another.
    let plain = get(path);
    assert_eq!(plain.header("content-encoding"), None, "{path}");
    assert_ne!(plain.header("etag"), Some(etag.as_str()), "{path}");
    etag
}

#[test]
fn clients_that_take_gzip_get_the_gz_file() {
    assert_gzipped("/wasi-detect.js", "browser/wasi-detect.js", JS, "no-cache");
    assert_gzipped(
        "/browser/abc123/detector.js",
        "browser/abc123/detector.js",
        JS,
        IMMUTABLE,
    );
    assert_gzipped(
        "/models/nanodet/labels.txt",
        "nanodet/labels.txt",
        "text/plain; charset=utf-8",
        "no-cache",
    );
}

#[test]
fn a_models_weights_are_streamed_gzipped() {
    let models = TempModels::new("files-model-gz");
    models.model_from(
        "nanodet",
        "nanodet",
        &["manifest.json", "labels.txt", "model.onnx"],
    );
    let weights = std::fs::read(models.0.join("nanodet/model.onnx")).unwrap();
    write_gz(&models.0.join("nanodet/model.onnx"));
    let gz = std::fs::read(models.0.join("nanodet/model.onnx.gz")).unwrap();
    // Several MB of gzip: many chunks.
    assert!(gz.len() > 4_000_000, "{}", gz.len());
    let s = Server::start(ServerConfig {
        preload: false,
        models: Some(models.0.clone()),
        ..ServerConfig::default()
    });
    let r =
        s.request(Request::get("/models/nanodet/model.onnx").header("accept-encoding", "gzip, br"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert_eq!(r.header("cache-control"), Some("no-cache"));
    assert_eq!(
        r.header("content-length"),
        Some(gz.len().to_string().as_str())
    );
    assert!(r.body == gz, "the body is not the .gz file's bytes");
    assert!(gunzip(&r.body, "model.onnx") == weights);
    let etag = assert_file_headers(&r, "model.onnx");
    let again = s.request(
        Request::get("/models/nanodet/model.onnx")
            .header("accept-encoding", "gzip, br")
            .header("if-none-match", &etag),
    );
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
}

#[test]
fn accept_encoding_is_parsed() {
    let path = "/browser/abc123/detector.js";
    let plain = file_bytes("browser/abc123/detector.js");
    let gz = file_bytes("browser/abc123/detector.js.gz");
    for header in [
        "gzip",
        "GZIP",
        "deflate, gzip;q=0.5",
        "x-gzip",
        "*",
        "br;q=1, gzip;q=0.1",
    ] {
        let r = get_gzip(path, header);
        assert_eq!(r.header("content-encoding"), Some("gzip"), "{header}");
        assert!(r.body == gz, "{header}");
    }
    for header in [
        "",
        "identity",
        "gzip;q=0",
        "gzip;q=0.000, br",
        "br, deflate",
        "*;q=0",
        "gzip;q=0.5, identity",
        "gzip;q=x",
    ] {
        let r = get_gzip(path, header);
        assert_eq!(r.status, 200, "{header}");
        assert_eq!(r.header("content-encoding"), None, "{header}");
        assert_eq!(r.header("vary"), Some("accept-encoding"), "{header}");
        assert!(r.body == plain, "{header}: not the plain file");
    }
    // The items of a list may come in several fields.
    let r = setup().1.request(
        Request::get(path)
            .header("accept-encoding", "gzip")
            .header("accept-encoding", "gzip;q=0"),
    );
    assert_eq!(r.header("content-encoding"), None);
}

#[test]
fn without_a_gz_file_the_file_is_sent_as_it_is() {
    for (path, file) in [
        ("/browser/abc123/x.wasm", "browser/abc123/x.wasm"),
        ("/models/nanodet/manifest.json", "nanodet/manifest.json"),
    ] {
        let r = get_gzip(path, "gzip, br");
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        assert_eq!(r.header("content-encoding"), None, "{path}");
        assert_eq!(r.header("vary"), Some("accept-encoding"), "{path}");
        assert!(!r.header("etag").unwrap().ends_with("-gz\""), "{path}");
        assert!(r.body == file_bytes(file), "{path}");
    }
    // A .gz alone is not a file, nor is a .gz a type served.
    get_gzip("/browser/abc123/only.js", "gzip").assert_error(404, "not_found");
    get_gzip("/browser/abc123/detector.js.gz", "gzip").assert_error(404, "not_found");
}

#[test]
fn the_gz_files_etag_revalidates_it() {
    let path = "/browser/abc123/detector.js";
    let etag = assert_gzipped(path, "browser/abc123/detector.js", JS, IMMUTABLE);
    let plain_etag = get(path).header("etag").unwrap().to_string();
    for tags in [
        etag.clone(),
        format!("W/{etag}"),
        format!("{plain_etag}, {etag}"),
    ] {
        let r = setup().1.request(
            Request::get(path)
                .header("accept-encoding", "gzip, br")
                .header("if-none-match", &tags),
        );
        assert_eq!(r.status, 304, "{tags}");
        assert!(r.body.is_empty(), "a 304 has no body");
        assert_eq!(r.header("etag"), Some(etag.as_str()));
        assert_eq!(r.header("content-encoding"), Some("gzip"));
        assert_file_headers(&r, path);
    }
    // The tag of the other coding is not the current one.
    let r = setup().1.request(
        Request::get(path)
            .header("accept-encoding", "gzip")
            .header("if-none-match", &plain_etag),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    let r = setup()
        .1
        .request(Request::get(path).header("if-none-match", &etag));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-encoding"), None);
    assert!(r.body == file_bytes("browser/abc123/detector.js"));
}

#[test]
fn a_gz_file_older_than_its_file_is_never_sent() {
    let models = TempModels::new("files-stale");
    models.model_from("nanodet", "nanodet", &["manifest.json", "labels.txt"]);
    let entry = models.0.join("browser/wasi-detect.js");
    let gz = models.0.join("browser/wasi-detect.js.gz");
    models.write(
        "browser/wasi-detect.js",
        "export * from './aaa/detector.js';\n",
    );
    write_gz(&entry);
    let s = Server::start(ServerConfig {
        preload: false,
        models: Some(models.0.clone()),
        ..ServerConfig::default()
    });
    let fetch = || s.request(Request::get("/wasi-detect.js").header("accept-encoding", "gzip"));
    let first = fetch();
    assert_eq!(first.header("content-encoding"), Some("gzip"));
    assert_eq!(
        gunzip(&first.body, "entry"),
        b"export * from './aaa/detector.js';\n"
    );

    // The file rebuilt after its .gz: the .gz has the old bytes.
    let rebuilt = "export * from './bbbbbb/detector.js';\n";
    models.write("browser/wasi-detect.js", rebuilt);
    let now = SystemTime::now();
    set_modified(&gz, now - Duration::from_secs(60));
    set_modified(&entry, now);
    let r = fetch();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.text(), rebuilt);
    // Older by a nanosecond is older.
    set_modified(&gz, now - Duration::from_nanos(1));
    assert_eq!(fetch().header("content-encoding"), None);

    // As old as its file (gzip -k keeps the time): current.
    write_gz(&entry);
    set_modified(&gz, now);
    let r = fetch();
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(gunzip(&r.body, "entry"), rebuilt.as_bytes());
    let etag = r.header("etag").unwrap().to_string();
    // A newer .gz is a new tag.
    set_modified(&gz, now + Duration::from_secs(1));
    let r = s.request(
        Request::get("/wasi-detect.js")
            .header("accept-encoding", "gzip")
            .header("if-none-match", &etag),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-encoding"), Some("gzip"));
}

#[test]
fn a_model_not_served_is_model_not_found() {
    for name in ["other", "yolo", "browser", "examples"] {
        let r = get(&format!("/models/{name}/model.onnx"));
        let m = r.assert_error(404, "model_not_found");
        assert!(m.contains(&format!("'{name}'")), "{m}");
        assert_eq!(r.json()["available"], json!(["nanodet", "centernet"]));
    }
}

#[test]
fn paths_outside_the_files_are_404() {
    for path in [
        "/browser/../x",
        "/browser/../nanodet/model.onnx",
        "/browser/abc123/deeper/y.js",
        "/browser/a/b/c",
        "/browser/.x/y",
        "/browser/abc123/.hidden.js",
        "/browser/%2e%2e/nanodet/model.onnx",
        "/browser/abc123/%2e%2e",
        "/browser/%2e%2e/%2e%2e",
        "/browser/abc123/notes.html",
        "/browser/wasi-detect.js",
        "/models/nanodet/model.xml",
        "/models/nanodet/../other/model.onnx",
        "/models/%2e%2e/nanodet/model.onnx",
        "/models/nanodet/%2e%2e",
    ] {
        get(path).assert_error(404, "not_found");
    }
}

#[test]
fn a_missing_file_says_make_setup_builds_it() {
    for (path, names) in [
        ("/browser/abc123/gone.js", "/models/browser/abc123/gone.js"),
        ("/browser/def456/x.wasm", "/models/browser/def456/x.wasm"),
    ] {
        let m = get(path).assert_error(404, "not_found");
        assert!(m.contains(names) && m.contains("make setup"), "{m}");
    }
    // Without a build of private mode at all.
    let models = TempModels::new("files-none");
    models.model_from("nanodet", "nanodet", &["manifest.json", "labels.txt"]);
    let s = Server::start(ServerConfig {
        preload: false,
        models: Some(models.0.clone()),
        ..ServerConfig::default()
    });
    let m = s
        .request(Request::get("/wasi-detect.js"))
        .assert_error(404, "not_found");
    assert!(
        m.contains("/models/browser/wasi-detect.js") && m.contains("make setup"),
        "{m}"
    );
    // A served model without that file.
    let m = s
        .request(Request::get("/models/nanodet/model.onnx"))
        .assert_error(404, "not_found");
    assert!(m.contains("/models/nanodet/model.onnx"), "{m}");
}

#[test]
fn other_methods_are_405_and_options_a_preflight() {
    for path in [
        "/wasi-detect.js",
        "/browser/abc123/x.wasm",
        "/models/nanodet/model.onnx",
    ] {
        let r = setup().1.request(Request::post(path).body(vec![1]));
        r.assert_error(405, "method_not_allowed");
        assert_eq!(r.header("allow"), Some("GET, OPTIONS"), "{path}");
        let r = setup().1.request(Request::new("DELETE", path));
        r.assert_error(405, "method_not_allowed");
        let r = setup().1.request(Request::new("OPTIONS", path));
        assert_eq!(r.status, 204, "{path}");
        assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    }
}

#[test]
fn the_page_is_cross_origin_isolated() {
    let r = get("/");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cross-origin-opener-policy"), Some("same-origin"));
    assert_eq!(
        r.header("cross-origin-embedder-policy"),
        Some("require-corp")
    );
    let csp = r.header("content-security-policy").expect("a CSP");
    for directive in [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' 'wasm-unsafe-eval'",
        "worker-src 'self' blob:",
        "connect-src 'self'",
        "img-src 'self' blob: data:",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
}

#[test]
fn example_photos_may_be_loaded_by_an_isolated_page() {
    let r = get("/examples/camera.png");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.body == file_bytes("examples/camera.png"));
    assert_eq!(r.header("content-type"), Some("image/png"));
    assert_eq!(
        r.header("cross-origin-resource-policy"),
        Some("cross-origin")
    );
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
}
