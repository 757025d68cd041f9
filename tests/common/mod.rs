//! What the integration tests share: the real host serving the built
//! component on a free port, a small HTTP/1.1 client that can also send the
//! malformed requests a library would refuse to, and the native reference.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A path from the environment, else the default under the repository; a
/// missing file fails the test with what builds it.
fn required(var: &str, default: &str, built_by: &str) -> PathBuf {
    let path = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(default));
    assert!(
        path.exists(),
        "{} is missing ({var}); `{built_by}` builds it, `make test` runs everything",
        path.display()
    );
    path
}

pub fn host_binary() -> PathBuf {
    required(
        "WASI_DETECT_HOST",
        "target/host/wasi-detect-host",
        "make host",
    )
}

pub fn component() -> PathBuf {
    required(
        "WASI_DETECT_WASM",
        "dist/wasi-detect.wasm",
        "make component",
    )
}

/// The portable build: the detector composed with the wasi-nn provider.
pub fn portable_component() -> PathBuf {
    required(
        "WASI_DETECT_PORTABLE_WASM",
        "dist/wasi-detect-portable.wasm",
        "make portable",
    )
}

/// The portable build exporting WASIp3's wasi:http, for Spin 4 (`make
/// portable` writes it beside the WASIp2 one, with the same model built in).
pub fn portable_p3_component() -> PathBuf {
    required(
        "WASI_DETECT_PORTABLE_P3_WASM",
        "dist/wasi-detect-portable-p3.wasm",
        "make portable",
    )
}

/// A component's imports (`world == false`) or exports, as
/// `package/interface@version`: the outermost component's only, which are
/// the host's business.
pub fn component_interfaces(wasm: &Path, exports: bool) -> Vec<String> {
    let bytes = std::fs::read(wasm).unwrap();
    let mut names = Vec::new();
    let mut depth = 0;
    for payload in wasmparser::Parser::new(0).parse_all(&bytes) {
        match payload.expect("a valid component") {
            wasmparser::Payload::ModuleSection { .. }
            | wasmparser::Payload::ComponentSection { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth -= 1,
            wasmparser::Payload::ComponentImportSection(section) if depth == 0 && !exports => {
                for import in section {
                    names.push(import.unwrap().name.0.to_string());
                }
            }
            wasmparser::Payload::ComponentExportSection(section) if depth == 0 && exports => {
                for export in section {
                    names.push(export.unwrap().name.0.to_string());
                }
            }
            _ => {}
        }
    }
    names
}

/// The portable build without a model built in (`make portable` writes both).
pub fn portable_code_component() -> PathBuf {
    required(
        "WASI_DETECT_PORTABLE_CODE_WASM",
        "dist/wasi-detect-portable-code.wasm",
        "make portable",
    )
}

/// The model `make portable` builds into the portable artifact, its default:
/// coco-ssd, which tract in wasm runs 2.5 times as fast as NanoDet.
pub const PORTABLE_MODEL: &str = "coco-ssd";

/// The pre-initialised provider alone, before composition: its
/// `matmul-kernels` and `profile` exports are called with `run --invoke`.
pub fn preinitialised_provider() -> PathBuf {
    required(
        "WASI_DETECT_PROVIDER_WASM",
        &format!("target/portable/provider-{PORTABLE_MODEL}.wasm"),
        "make portable",
    )
}

pub fn models_dir() -> PathBuf {
    required("WASI_DETECT_MODELS", "models", "make model")
}

/// Photos with their formats and traits: see tests/fixtures/README.md.
pub const PHOTOS: &[&str] = &[
    "astronaut.png",
    "astronaut.jpg",
    "chelsea.png",
    "chelsea-progressive.jpg",
    "coffee.png",
    "coffee-rotated.jpg",
    "motorcycle_left.png",
    "motorcycle-palette.png",
    "camera.png",
];

pub fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures").join(name)
}

/// The host serving the component; killed when dropped, and by a watchdog if
/// the test process dies first.
pub struct Server {
    pub addr: SocketAddr,
    child: Child,
    watchdog: Child,
}

/// The engine behind wasi-nn, with the model folders it serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// ONNX Runtime in the host, `models/nanodet/model.onnx` and
    /// `models/centernet/model.onnx`.
    Onnx,
    /// OpenVINO in the host, `models/nanodet-ov/` and `models/centernet-ov/`
    /// (`model.xml` + `model.bin`).
    Openvino,
    /// No wasi-nn in the host: the portable build brings its own (tract),
    /// reading `models/<name>/model.onnx`.
    Portable,
}

impl Backend {
    /// The encoding name of `-S nn-graph=<name>::<dir>`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Onnx | Backend::Portable => "onnx",
            Backend::Openvino => "openvino",
        }
    }

    /// The default model's folder under `models/`, also its `load-by-name`
    /// name: NanoDet's natively, the built-in one in the portable build.
    pub fn model(self) -> &'static str {
        match self {
            Backend::Portable => PORTABLE_MODEL,
            Backend::Onnx | Backend::Openvino => self.models()[0],
        }
    }

    /// The folders of the models it serves: NanoDet's, CenterNet's and
    /// coco-ssd's.
    pub fn models(self) -> [&'static str; 3] {
        match self {
            Backend::Onnx | Backend::Portable => ["nanodet", "centernet", "coco-ssd"],
            Backend::Openvino => ["nanodet-ov", "centernet-ov", "coco-ssd-ov"],
        }
    }
}

/// How to start a server.
pub struct ServerConfig {
    pub backend: Backend,
    /// Whether the host preloads the backend's models and the default one
    /// (`-S nn-graph`) so the component finds them by name; otherwise the
    /// component reads them from `/models`.
    pub preload: bool,
    /// `--env` settings of the component; `WASI_DETECT_MODEL` defaults to the
    /// backend's model.
    pub env: Vec<(String, String)>,
    /// Whether `WASI_DETECT_MODEL` is set to the backend's model where `env`
    /// does not name one; otherwise the component's own default applies.
    pub name_the_model: bool,
    /// Application variables (`-S config-var=NAME=VALUE`), which the portable
    /// build's settings component reads through `wasi:config` (served with
    /// `-S config`); the native build has no use for them.
    pub config_vars: Vec<(String, String)>,
    /// More `serve` flags (the admission gate's, wasmtime's).
    pub args: Vec<String>,
    /// Whether instances are kept for later requests; without, every request
    /// gets a fresh instance, as on Spin.
    pub instance_reuse: bool,
    /// The folder mounted as `/models`, instead of `models/`.
    pub models: Option<PathBuf>,
    /// The component to serve, instead of the backend's.
    pub wasm: Option<PathBuf>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            backend: Backend::Onnx,
            preload: true,
            env: vec![],
            name_the_model: true,
            config_vars: vec![],
            args: vec![],
            instance_reuse: true,
            models: None,
            wasm: None,
        }
    }
}

/// `wasmtime serve` configured as Spin 3 runs a WASIp2 component: a fresh
/// instance per request (Spin never reuses one), the pooling allocator, and
/// epoch interruption, which Spin always turns on and which puts a check on
/// every loop's back edge (`-W timeout`: here the 30 s Fermyon Cloud and
/// Akamai Functions give a request).
pub const SPIN_ENGINE: [&str; 4] = ["-W", "timeout=30s", "-O", "pooling-allocator=y"];

impl ServerConfig {
    pub fn backend(backend: Backend) -> Self {
        ServerConfig {
            backend,
            ..ServerConfig::default()
        }
    }

    /// The portable WASIp3 build served as Spin 4 serves it: Spin's engine
    /// settings, wasmtime's defaults for WASIp3 instances, which are Spin
    /// 4's (each reused for up to 128 requests, up to 16 at once), and no
    /// admission gate in front, since Spin has none.
    pub fn spin4() -> Self {
        let mut args = SPIN_ENGINE.map(String::from).to_vec();
        args.extend(["--max-in-flight".into(), "0".into()]);
        ServerConfig {
            instance_reuse: false,
            args,
            wasm: Some(portable_p3_component()),
            ..ServerConfig::backend(Backend::Portable)
        }
    }

    /// The portable build served as Spin serves it ([`SPIN_ENGINE`]).
    pub fn spin() -> Self {
        ServerConfig {
            instance_reuse: false,
            args: SPIN_ENGINE.map(String::from).to_vec(),
            ..ServerConfig::backend(Backend::Portable)
        }
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Server {
    pub fn start(config: ServerConfig) -> Server {
        let portable = config.backend == Backend::Portable;
        let wasm = match (&config.wasm, portable) {
            (Some(wasm), _) => wasm.clone(),
            (None, true) => portable_component(),
            (None, false) => component(),
        };
        let host = host_binary();
        let models = config.models.clone().unwrap_or_else(models_dir);
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let mut args: Vec<String> = vec!["serve".into(), "-S".into(), "cli".into()];
        // The portable build runs without the host's wasi-nn, as on Spin,
        // and reads application variables through wasi:config.
        if portable {
            args.extend(["-S".into(), "config".into()]);
        } else {
            args.extend(["-S".into(), "nn".into()]);
        }
        for (k, v) in &config.config_vars {
            args.push("-S".into());
            args.push(format!("config-var={k}={v}"));
        }
        args.extend([
            "--dir".into(),
            format!("{}::/models", models.display()),
            "--addr".into(),
            addr.to_string(),
        ]);
        if config.instance_reuse {
            args.extend([
                "--max-instance-reuse-count".into(),
                "1000".into(),
                "--idle-instance-timeout".into(),
                "60s".into(),
            ]);
        }
        let mut env = config.env.clone();
        // The models folder holds both formats of each model: serve the
        // backend's, as scripts/serve.sh does.
        if config.models.is_none() && !env.iter().any(|(k, _)| k == "WASI_DETECT_MODELS") {
            env.push((
                "WASI_DETECT_MODELS".into(),
                config.backend.models().join(","),
            ));
        }
        let default = match env.iter().find(|(k, _)| k == "WASI_DETECT_MODEL") {
            Some((_, model)) => model.clone(),
            None if !config.name_the_model => config.backend.model().to_string(),
            None => {
                let model = config.backend.model();
                assert!(
                    models.join(model).is_dir(),
                    "{} is missing; `make model` builds it",
                    models.join(model).display()
                );
                env.push(("WASI_DETECT_MODEL".into(), model.into()));
                model.to_string()
            }
        };
        if config.preload && !portable {
            let mut names: Vec<&str> = config.backend.models().to_vec();
            if !names.contains(&default.as_str()) {
                names.push(&default);
            }
            for name in names.iter().filter(|n| models.join(n).is_dir()) {
                args.push("-S".into());
                args.push(format!(
                    "nn-graph={}::{}",
                    config.backend.name(),
                    models.join(name).display()
                ));
            }
        }
        for (k, v) in &env {
            args.push("--env".into());
            args.push(format!("{k}={v}"));
        }
        args.extend(config.args.iter().cloned());
        args.push(wasm.display().to_string());

        let mut command = Command::new(&host);
        if config.backend == Backend::Openvino {
            // Where the host finds libopenvino_c.so, as scripts/serve.sh does.
            command.env("LD_LIBRARY_PATH", script_output("openvino-libs.sh"));
        }
        let child = command
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the host");
        // Dropping the server kills the host; servers that live in statics
        // are never dropped, so a watchdog kills the host once this test
        // process is gone.
        let watchdog = watchdog(&child);
        let mut server = Server {
            addr,
            child,
            watchdog,
        };
        server.wait_ready();
        server
    }

    /// Whether the host process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the host exited before serving: {status}");
            }
            if TcpStream::connect(self.addr).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the host did not listen on {} within 60 s", self.addr);
    }

    pub fn request(&self, req: Request) -> Response {
        send(self.addr, &req)
    }

    pub fn post_image(&self, path: &str, content_type: &str, body: Vec<u8>) -> Response {
        self.request(
            Request::post(path)
                .header("content-type", content_type)
                .body(body),
        )
    }

    pub fn post_fixture(&self, path: &str, name: &str) -> Response {
        self.post_file(path, &fixture(name))
    }

    /// An image file posted as its extension says: PNG or JPEG.
    pub fn post_file(&self, path: &str, file: &Path) -> Response {
        let bytes = std::fs::read(file).unwrap();
        let ct = if file.extension().is_some_and(|e| e == "png") {
            "image/png"
        } else {
            "image/jpeg"
        };
        self.post_image(path, ct, bytes)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        for process in [&mut self.child, &mut self.watchdog] {
            let _ = process.kill();
            let _ = process.wait();
        }
    }
}

/// A process that kills `child` once this test process is gone: children
/// that live in statics are never dropped. It holds none of our pipes.
pub fn watchdog(child: &Child) -> Child {
    let watchdog = r#"while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 0.5; done
        kill -0 "$1" 2>/dev/null || kill "$2" 2>/dev/null"#;
    Command::new("bash")
        .args(["-c", watchdog, "watchdog"])
        .arg(std::process::id().to_string())
        .arg(child.id().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the watchdog")
}

/// A child process killed when dropped, or when this test process is gone.
pub struct Process {
    pub child: Child,
    watchdog: Child,
}

impl Process {
    pub fn new(child: Child) -> Process {
        let watchdog = watchdog(&child);
        Process { child, watchdog }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        for process in [&mut self.child, &mut self.watchdog] {
            let _ = process.kill();
            let _ = process.wait();
        }
    }
}

/// The build over a v2 server: the detector with provider-kserve composed in.
pub fn kserve_component() -> PathBuf {
    required(
        "WASI_DETECT_KSERVE_WASM",
        "dist/wasi-detect-kserve.wasm",
        "make kserve",
    )
}

/// Python with kserve/requirements.txt (the v2 server, tritonclient).
pub fn kserve_python() -> PathBuf {
    let mut command = Command::new("bash");
    command
        .arg(root().join("scripts/python-env.sh"))
        .arg(root().join("kserve/requirements.txt"));
    command_output(command, "scripts/python-env.sh kserve/requirements.txt")
}

/// How a request body is framed.
#[derive(Clone)]
pub enum Body {
    None,
    /// With a correct `content-length`.
    Sized(Vec<u8>),
    /// `transfer-encoding: chunked`, in chunks of this many bytes.
    Chunked(Vec<u8>, usize),
    /// Bytes sent as they are, with no framing header of ours.
    Raw(Vec<u8>),
    /// As `Raw`, then the end of the stream (our side shut down), so a body
    /// shorter than its `content-length` ends instead of keeping the server
    /// waiting for the rest.
    Cut(Vec<u8>),
}

#[derive(Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

impl Request {
    pub fn new(method: &str, path: &str) -> Request {
        Request {
            method: method.into(),
            path: path.into(),
            headers: vec![],
            body: Body::None,
        }
    }
    pub fn get(path: &str) -> Request {
        Request::new("GET", path)
    }
    pub fn post(path: &str) -> Request {
        Request::new("POST", path)
    }
    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.into(), value.into()));
        self
    }
    pub fn body(mut self, body: Vec<u8>) -> Request {
        self.body = Body::Sized(body);
        self
    }
    pub fn framed(mut self, body: Body) -> Request {
        self.body = body;
        self
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text, for messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// Asserts a JSON error with this status and code.
    pub fn assert_error(&self, status: u16, code: &str) -> String {
        let json = self.json();
        assert_eq!(
            (self.status, json["code"].as_str()),
            (status, Some(code)),
            "{json}"
        );
        assert_eq!(self.header("content-type"), Some("application/json"));
        let message = json["message"].as_str().expect("an error has a message");
        assert!(!message.is_empty());
        message.to_string()
    }
}

/// Sends one request on a fresh connection and reads the whole answer.
pub fn send(addr: SocketAddr, req: &Request) -> Response {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let mut head = format!(
        "{} {} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n",
        req.method, req.path
    );
    for (k, v) in &req.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let payload: Vec<u8> = match &req.body {
        Body::None => Vec::new(),
        Body::Sized(b) => {
            head.push_str(&format!("content-length: {}\r\n", b.len()));
            b.clone()
        }
        Body::Chunked(b, size) => {
            head.push_str("transfer-encoding: chunked\r\n");
            let mut out = Vec::new();
            for c in b.chunks((*size).max(1)) {
                out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
                out.extend_from_slice(c);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n\r\n");
            out
        }
        Body::Raw(b) | Body::Cut(b) => b.clone(),
    };
    head.push_str("\r\n");
    // A server may answer (413) and close before taking the whole body: a
    // failed write is fine as long as the answer can be read.
    let _ = stream
        .write_all(head.as_bytes())
        .and_then(|_| stream.write_all(&payload));
    if let Body::Cut(_) = req.body {
        let _ = stream.shutdown(std::net::Shutdown::Write);
    }
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    parse_response(&raw).unwrap_or_else(|| {
        panic!(
            "no HTTP answer to {} {}: {:?}",
            req.method,
            req.path,
            String::from_utf8_lossy(&raw)
        )
    })
}

fn parse_response(raw: &[u8]) -> Option<Response> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let rest = &raw[end + 4..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(rest)?
    } else {
        rest.to_vec()
    };
    Some(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..eol]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

/// A request the API must refuse, with what it must answer.
pub struct BadRequest {
    pub what: &'static str,
    pub request: Request,
    pub status: u16,
    pub code: &'static str,
    /// A part of the message that tells the client what went wrong.
    pub message_has: &'static str,
}

/// Every error path of the API, one request each.
pub fn bad_requests() -> Vec<BadRequest> {
    let png = std::fs::read(fixture("chelsea.png")).unwrap();
    let jpeg = std::fs::read(fixture("astronaut.jpg")).unwrap();
    let big = vec![0u8; 6 * 1024 * 1024];
    let image = |ct: &str, body: Vec<u8>| {
        Request::post("/predict")
            .header("content-type", ct)
            .body(body)
    };
    let case = |what, request, status, code, message_has| BadRequest {
        what,
        request,
        status,
        code,
        message_has,
    };
    let mut cases = vec![
        // Routes and methods.
        case(
            "unknown path",
            Request::get("/nope"),
            404,
            "not_found",
            "/predict",
        ),
        case(
            "path under a route",
            Request::get("/predict/x"),
            404,
            "not_found",
            "/predict",
        ),
        case(
            "path outside the examples",
            Request::get("/examples/../models/nanodet/model.onnx"),
            404,
            "not_found",
            "/predict",
        ),
        case(
            "GET /predict",
            Request::get("/predict"),
            405,
            "method_not_allowed",
            "POST",
        ),
        case(
            "POST /warm",
            Request::post("/warm").body(vec![1]),
            405,
            "method_not_allowed",
            "GET",
        ),
        // Content types.
        case(
            "no content-type",
            Request::post("/predict").body(png.clone()),
            415,
            "unsupported_media_type",
            "image/jpeg",
        ),
        case(
            "gif",
            image("image/gif", b"GIF89a....".to_vec()),
            415,
            "unsupported_media_type",
            "image/gif",
        ),
        case(
            "text/plain",
            image("text/plain", png.clone()),
            415,
            "unsupported_media_type",
            "text/plain",
        ),
        // Bodies.
        case(
            "empty body",
            image("image/png", vec![]),
            400,
            "bad_request",
            "empty",
        ),
        case(
            "6 MB with content-length",
            image("image/jpeg", big.clone()),
            413,
            "payload_too_large",
            "5 MB",
        ),
        case(
            "6 MB chunked",
            Request::post("/predict")
                .header("content-type", "image/jpeg")
                .framed(Body::Chunked(big, 64 * 1024)),
            413,
            "payload_too_large",
            "5 MB",
        ),
        // Bytes that are not what the type says, or not an image at all.
        case(
            "PNG sent as JPEG",
            image("image/jpeg", png.clone()),
            422,
            "invalid_image",
            "image/png",
        ),
        case(
            "JPEG sent as PNG",
            image("image/png", jpeg.clone()),
            422,
            "invalid_image",
            "image/jpeg",
        ),
        case(
            "text sent as JPEG",
            image("image/jpeg", b"not an image".to_vec()),
            422,
            "invalid_image",
            "image/jpeg",
        ),
        case(
            "truncated JPEG",
            image("image/jpeg", jpeg[..jpeg.len() / 3].to_vec()),
            422,
            "invalid_image",
            "truncated",
        ),
        case(
            "truncated PNG",
            image("image/png", png[..png.len() / 3].to_vec()),
            422,
            "invalid_image",
            "image/png",
        ),
        // Decompression bombs are refused from the header.
        case(
            "PNG claiming 60000x60000",
            image(
                "image/png",
                std::fs::read(root().join("tests/corpus/bomb-60000x60000.png")).unwrap(),
            ),
            413,
            "image_too_large",
            "60000x60000",
        ),
    ];
    // Query parameters.
    for (q, says) in [
        ("threshold=2", "threshold"),
        ("threshold=x", "threshold"),
        ("max=0", "max"),
        ("max=101", "max"),
        ("classes=unicorn", "unicorn"),
        ("colour=red", "colour"),
        ("max=1&max=2", "more than once"),
    ] {
        let request = Request::post(&format!("/predict?{q}"))
            .header("content-type", "image/png")
            .body(png.clone());
        cases.push(case(
            "query parameter",
            request,
            400,
            "invalid_parameter",
            says,
        ));
    }
    cases
}

/// A detection: class, score and corners `[x1, y1, x2, y2]`.
#[derive(Debug, Clone)]
pub struct Det {
    pub class: String,
    pub score: f64,
    pub bbox: [f64; 4],
}

impl Det {
    pub fn iou(&self, o: &Det) -> f64 {
        let w = (self.bbox[2].min(o.bbox[2]) - self.bbox[0].max(o.bbox[0])).max(0.0);
        let h = (self.bbox[3].min(o.bbox[3]) - self.bbox[1].max(o.bbox[1])).max(0.0);
        let area = |b: &[f64; 4]| (b[2] - b[0]).max(0.0) * (b[3] - b[1]).max(0.0);
        let inter = w * h;
        let union = area(&self.bbox) + area(&o.bbox) - inter;
        if union > 0.0 {
            inter / union
        } else {
            0.0
        }
    }
}

/// How close two sets of detections of the same image must be.
#[derive(Debug, Clone, Copy)]
pub struct Tolerance {
    /// The score threshold both sets were made with.
    pub threshold: f64,
    /// Largest score difference between twins.
    pub score: f64,
    /// Smallest IoU of twins' boxes.
    pub iou: f64,
}

/// Against the native reference: class equal, score within 0.03, IoU > 0.9.
pub const VS_NATIVE: Tolerance = Tolerance {
    threshold: 0.35,
    score: 0.03,
    iou: 0.9,
};

/// The same engine's answers to the same photo, run alone and side by side
/// with others (a one-thread session sums in another order): class equal,
/// score within 0.002, IoU > 0.99.
pub const SIDE_BY_SIDE: Tolerance = Tolerance {
    score: 0.002,
    iou: 0.99,
    ..VS_NATIVE
};

/// CenterNet against its native reference: the same, above its default
/// threshold.
pub const VS_NATIVE_CENTERNET: Tolerance = Tolerance {
    threshold: 0.2,
    ..VS_NATIVE
};

/// Every detection of `a` clear of the threshold (by more than the score
/// tolerance, so it cannot fall either side of it) has a twin in `b`, and
/// the other way round: same class, score and box within the tolerance.
pub fn assert_twins(image: &str, tol: Tolerance, a: (&str, &[Det]), b: (&str, &[Det])) {
    let twin = |d: &Det, others: &[Det]| {
        others.iter().any(|o| {
            o.class == d.class && (o.score - d.score).abs() <= tol.score && o.iou(d) > tol.iou
        })
    };
    for ((name, dets), (other_name, others)) in [(a, b), (b, a)] {
        for d in dets.iter().filter(|d| d.score >= tol.threshold + tol.score) {
            assert!(
                twin(d, others),
                "{image}: {name}'s {d:?} has no twin in {other_name}'s {others:#?}"
            );
        }
    }
}

/// Every photo of `PHOTOS` posted to `server` gives, best first, what the
/// same model gives run natively by ONNX Runtime (within `VS_NATIVE`).
pub fn assert_photos_match_native(server: &Server, label: &str) {
    assert_photos_match_reference(server, label, Reference::NanoDet, "/predict");
}

/// Every photo of `PHOTOS` posted to `server` at `path` gives, best first,
/// what `model`'s reference gives on it (within its tolerance).
pub fn assert_photos_match_reference(server: &Server, label: &str, model: Reference, path: &str) {
    let tolerance = model.tolerance();
    let paths: Vec<PathBuf> = PHOTOS.iter().map(|i| fixture(i)).collect();
    let reference = model.detections(&paths, tolerance.threshold, model.max(), false);
    assert_eq!(reference.len(), PHOTOS.len());
    let mut found = 0;
    for (image, want) in &reference {
        if model == Reference::NanoDet {
            assert!(
                !want.is_empty(),
                "{image}: the reference finds nothing; pick another photo"
            );
        }
        found += want.len();
        let r = server.post_fixture(path, image);
        let body = String::from_utf8_lossy(&r.body);
        assert_eq!(r.status, 200, "{label}, {image}: {body}");
        let got = api_detections(&r.json());
        assert_twins(image, tolerance, (label, &got), ("native", want));
        assert!(
            got.windows(2).all(|w| w[0].score >= w[1].score),
            "{label}, {image}: not best first: {got:?}"
        );
    }
    assert!(
        found >= PHOTOS.len(),
        "{model:?} finds {found} objects in all the photos"
    );
}

/// Detections from the API's JSON answer.
pub fn api_detections(json: &serde_json::Value) -> Vec<Det> {
    json.as_array()
        .expect("an array")
        .iter()
        .map(|d| {
            let p = |i: usize, k: &str| d["bbox"][i][k].as_f64().expect("a corner");
            Det {
                class: d["class"].as_str().expect("a class").to_string(),
                score: d["score"].as_f64().expect("a score"),
                bbox: [p(0, "x"), p(0, "y"), p(1, "x"), p(1, "y")],
            }
        })
        .collect()
}

/// The path a `scripts/` helper prints (it sets up what is missing first).
fn script_output(script: &str) -> PathBuf {
    let mut command = Command::new("bash");
    command.arg(root().join("scripts").join(script));
    command_output(command, &format!("scripts/{script}"))
}

/// The path `command` (`what`) prints.
fn command_output(mut command: Command, what: &str) -> PathBuf {
    let out = command
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("run {what}: {e}"));
    assert!(out.status.success(), "{what} failed");
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// Detections written flat, `{"class", "score", "bbox": [x1, y1, x2, y2]}`
/// (by the reference detector and the page test).
pub fn flat_detections(list: &serde_json::Value) -> Vec<Det> {
    let list = list.as_array().expect("a list of detections");
    list.iter()
        .map(|d| {
            let b: Vec<f64> = d["bbox"]
                .as_array()
                .expect("a bbox")
                .iter()
                .map(|x| x.as_f64().expect("a number"))
                .collect();
            Det {
                class: d["class"].as_str().expect("a class").to_string(),
                score: d["score"].as_f64().expect("a score"),
                bbox: [b[0], b[1], b[2], b[3]],
            }
        })
        .collect()
}

/// Python with the reference's packages (from `scripts/python-env.sh`).
pub fn python() -> PathBuf {
    match std::env::var_os("WASI_DETECT_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => script_output("python-env.sh"),
    }
}

/// A model the tests check against its Python reference
/// (`tests/reference/`), which runs it natively with ONNX Runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reference {
    /// `models/nanodet`, `tests/reference/detect.py`.
    NanoDet,
    /// `models/centernet`, `tests/reference/centernet.py`.
    CenterNet,
}

impl Reference {
    /// The model's folder under `models/`.
    pub fn folder(self) -> &'static str {
        match self {
            Reference::NanoDet => "nanodet",
            Reference::CenterNet => "centernet",
        }
    }

    fn script(self) -> &'static str {
        match self {
            Reference::NanoDet => "tests/reference/detect.py",
            Reference::CenterNet => "tests/reference/centernet.py",
        }
    }

    /// How close the API's answers must be to the reference's.
    pub fn tolerance(self) -> Tolerance {
        match self {
            Reference::NanoDet => VS_NATIVE,
            Reference::CenterNet => VS_NATIVE_CENTERNET,
        }
    }

    /// The `max` both sides use: the API's default for NanoDet; all of
    /// CenterNet's rows, so that which of many low scores make the cut
    /// does not matter.
    pub fn max(self) -> u32 {
        match self {
            Reference::NanoDet => 20,
            Reference::CenterNet => 100,
        }
    }

    /// What the model gives for image files, run natively by ONNX Runtime,
    /// by image file name; `full_decode` makes the reference decode every
    /// pixel of a large JPEG instead of reducing it as the component does.
    pub fn detections(
        self,
        paths: &[PathBuf],
        threshold: f64,
        max: u32,
        full_decode: bool,
    ) -> Vec<(String, Vec<Det>)> {
        let model = models_dir().join(self.folder()).join("model.onnx");
        let out = Command::new(python())
            .arg(root().join(self.script()))
            .arg("--model")
            .arg(&model)
            .arg("--threshold")
            .arg(threshold.to_string())
            .arg("--max")
            .arg(max.to_string())
            .args(full_decode.then_some("--full-decode"))
            .args(paths)
            .stderr(Stdio::inherit())
            .output()
            .expect("run the reference detector");
        assert!(out.status.success(), "the reference detector failed");
        parse_reference(&out.stdout)
    }
}

/// What NanoDet gives for `images` run natively by ONNX Runtime
/// (`tests/reference/detect.py`), by image file name.
pub fn reference_detections(images: &[&str], threshold: f64) -> Vec<(String, Vec<Det>)> {
    let paths: Vec<PathBuf> = images.iter().map(|i| fixture(i)).collect();
    reference_detections_of(&paths, threshold, false)
}

/// The same for image files anywhere; `full_decode` makes the reference
/// decode every pixel of a large JPEG instead of reducing it as the
/// component does.
pub fn reference_detections_of(
    paths: &[PathBuf],
    threshold: f64,
    full_decode: bool,
) -> Vec<(String, Vec<Det>)> {
    Reference::NanoDet.detections(paths, threshold, 20, full_decode)
}

/// Phone-sized JPEGs made from the test photos by
/// `tests/fixtures/make_phone_photos.py` (which says what each exercises),
/// in `target/phone-photos/`.
pub fn phone_photos() -> Vec<PathBuf> {
    let dir = root().join("target/phone-photos");
    let status = Command::new(python())
        .arg(root().join("tests/fixtures/make_phone_photos.py"))
        .arg(&dir)
        .status()
        .expect("run make_phone_photos.py");
    assert!(status.success(), "make_phone_photos.py failed");
    let mut photos: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .collect();
    photos.sort();
    photos
}

fn parse_reference(stdout: &[u8]) -> Vec<(String, Vec<Det>)> {
    let text = String::from_utf8_lossy(stdout);
    let values: Vec<serde_json::Value> = match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Array(a)) => a,
        Ok(v) => vec![v],
        Err(_) => text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
    };
    values
        .iter()
        .map(|v| {
            let name = Path::new(v["image"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .to_string();
            // detect.py writes boxes flat, centernet.py as the API does.
            let detections = &v["detections"];
            let api_shaped = detections[0]["bbox"][0].is_object();
            let list = if api_shaped {
                api_detections(detections)
            } else {
                flat_detections(detections)
            };
            (name, list)
        })
        .collect()
}

/// A models folder of a test's own, removed when dropped: model folders
/// made of the built models' files, and files written by the test.
pub struct TempModels(pub PathBuf);

impl TempModels {
    pub fn new(tag: &str) -> TempModels {
        let path = std::env::temp_dir().join(format!("wasi-detect-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempModels(path)
    }

    /// Model folder `name` with `files` of `models/<from>/` (hard links
    /// where the file system allows, else copies).
    pub fn model_from(&self, name: &str, from: &str, files: &[&str]) -> &Self {
        let dir = self.0.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for file in files {
            let source = models_dir().join(from).join(file);
            assert!(
                source.exists(),
                "{}: `make model` builds it",
                source.display()
            );
            if std::fs::hard_link(&source, dir.join(file)).is_err() {
                std::fs::copy(&source, dir.join(file)).unwrap();
            }
        }
        self
    }

    /// Writes `bytes` to `path` under the folder.
    pub fn write(&self, path: &str, bytes: impl AsRef<[u8]>) -> &Self {
        let path = self.0.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
        self
    }
}

impl Drop for TempModels {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// TF.js coco-ssd's own `detect` at its defaults (20 boxes, score 0.5) on
/// image files (`tests/reference/coco-ssd/run.sh`), by file name, its boxes
/// turned from `[x, y, width, height]` into corners.
pub fn coco_ssd_reference(paths: &[PathBuf]) -> Vec<(String, Vec<Det>)> {
    let out = Command::new("bash")
        .arg(root().join("tests/reference/coco-ssd/run.sh"))
        .args(paths)
        .stderr(Stdio::inherit())
        .output()
        .expect("run tests/reference/coco-ssd/run.sh");
    assert!(out.status.success(), "TF.js coco-ssd failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let name = Path::new(v["image"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .to_string();
            (name, coco_ssd_detections(&v["detections"]))
        })
        .collect()
}

/// coco-ssd's answer, `[{bbox: [x, y, width, height], class, score}]`, as
/// detections with corners.
pub fn coco_ssd_detections(answer: &serde_json::Value) -> Vec<Det> {
    let list = answer
        .as_array()
        .unwrap_or_else(|| panic!("not a list of predictions: {answer}"));
    list.iter()
        .map(|d| {
            let b: Vec<f64> = d["bbox"]
                .as_array()
                .unwrap_or_else(|| panic!("no bbox: {d}"))
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            assert_eq!(b.len(), 4, "{d}");
            Det {
                class: d["class"].as_str().unwrap().to_string(),
                score: d["score"].as_f64().unwrap(),
                bbox: [b[0], b[1], b[0] + b[2], b[1] + b[3]],
            }
        })
        .collect()
}

/// How far our answers to one photo are from coco-ssd's: the largest score
/// difference and the smallest IoU over the matched detections.
#[derive(Debug, Clone, Copy)]
pub struct Agreement {
    pub score: f64,
    pub iou: f64,
}

impl Agreement {
    pub const EXACT: Agreement = Agreement {
        score: 0.0,
        iou: 1.0,
    };

    pub fn worst(self, other: Agreement) -> Agreement {
        Agreement {
            score: self.score.max(other.score),
            iou: self.iou.min(other.iou),
        }
    }
}

/// Score and IoU coco-ssd's users can count on: each detection of coco-ssd
/// has ours of the same class within this score and above this IoU.
pub const VS_COCO_SSD: Tolerance = Tolerance {
    threshold: 0.5,
    score: 0.05,
    iou: 0.9,
};

/// Ours found nothing coco-ssd does not above this score.
pub const COCO_SSD_UNMATCHED: f64 = 0.6;

/// Every photo of `paths` posted to `server` at `predict` (a `/predict` path
/// naming the model, or none for the default) agrees with coco-ssd's own
/// answers `reference` (`coco_ssd_reference(paths)`); the worst agreement.
/// Asked below coco-ssd's threshold by the score tolerance and for more than
/// its 20 boxes, so that a twin just under 0.5 is not cut from ours.
pub fn agreement_with_coco_ssd(
    server: &Server,
    label: &str,
    predict: &str,
    paths: &[PathBuf],
    reference: &[(String, Vec<Det>)],
) -> Agreement {
    assert_eq!(reference.len(), paths.len());
    let sep = if predict.contains('?') { '&' } else { '?' };
    let path = format!(
        "{predict}{sep}threshold={}&max=100",
        VS_COCO_SSD.threshold - VS_COCO_SSD.score
    );
    let mut worst = Agreement::EXACT;
    for ((image, theirs), file) in reference.iter().zip(paths) {
        assert!(file.ends_with(image), "{image} is not {}", file.display());
        let r = server.post_file(&path, file);
        assert_eq!(r.status, 200, "{label}, {image}: {}", r.text());
        let ours = api_detections(&r.json());
        worst = worst.worst(assert_agrees_with_coco_ssd(image, label, &ours, theirs));
    }
    worst
}

/// Every detection coco-ssd makes at its defaults has a twin among `ours`
/// (same class, score within 0.05, IoU above 0.9), and `ours` has nothing
/// above 0.6 without a twin among coco-ssd's. `ours` must be asked below
/// coco-ssd's threshold (by the score tolerance) and for more than its 20,
/// so a twin just under 0.5 is not cut. What it measured is returned.
pub fn assert_agrees_with_coco_ssd(
    image: &str,
    label: &str,
    ours: &[Det],
    theirs: &[Det],
) -> Agreement {
    let tol = VS_COCO_SSD;
    let mut agreement = Agreement::EXACT;
    let twin = |d: &Det, others: &[Det]| -> Option<Agreement> {
        others
            .iter()
            .filter(|o| o.class == d.class)
            .map(|o| Agreement {
                score: (o.score - d.score).abs(),
                iou: o.iou(d),
            })
            .filter(|a| a.score <= tol.score && a.iou > tol.iou)
            .reduce(|a, b| if a.iou >= b.iou { a } else { b })
    };
    for d in theirs {
        let found = twin(d, ours).unwrap_or_else(|| {
            panic!("{image}: coco-ssd's {d:?} has no twin in {label}'s {ours:#?}")
        });
        agreement = agreement.worst(found);
    }
    for d in ours.iter().filter(|d| d.score > COCO_SSD_UNMATCHED) {
        assert!(
            twin(d, theirs).is_some(),
            "{image}: {label}'s {d:?} is not among coco-ssd's {theirs:#?}"
        );
    }
    agreement
}
