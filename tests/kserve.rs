//! The build over a v2 server (`make kserve`): the detector with
//! provider-kserve composed in, served by `wasmtime serve` without wasi-nn,
//! against a real KServe server (PyPI kserve, kserve/server.py) on
//! loopback, as Spin runs it: a fresh instance per request, Spin's engine
//! settings. Between the two, for the failure cases, a proxy that
//! misbehaves on demand (tests/kserve/faulty.py).

mod common;

use common::*;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{ChildStdin, ChildStdout, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The models the v2 server serves, with the threshold their answers are
/// compared above (each model's default).
const MODELS: [(&str, f64); 3] = [("nanodet", 0.35), ("centernet", 0.2), ("coco-ssd", 0.5)];

/// A KServe server with the models of models/, one for all the tests.
fn v2_server() -> u16 {
    static SERVER: OnceLock<(Process, u16)> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            let port = free_port();
            let mut command = Command::new(kserve_python());
            command
                .arg(root().join("kserve/server.py"))
                .arg("--models-dir")
                .arg(models_dir())
                .args(["--port", &port.to_string()]);
            for (name, _) in MODELS {
                command.args(["--model", name]);
            }
            let child = command
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start kserve/server.py");
            (
                wait_ready(Process::new(child), port, "kserve/server.py"),
                port,
            )
        })
        .1
}

/// `wasi-detect-host v2` with the same models: the host's ONNX Runtime
/// behind the v2 protocol, one for all the tests.
fn host_v2_server() -> u16 {
    static SERVER: OnceLock<(Process, u16)> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            let port = free_port();
            let mut command = Command::new(host_binary());
            command.args(["v2", "--addr", &format!("127.0.0.1:{port}")]);
            for (name, _) in MODELS {
                command
                    .arg("--model")
                    .arg(format!("{name}={}", models_dir().join(name).display()));
            }
            let child = command
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("start wasi-detect-host v2");
            (
                wait_ready(Process::new(child), port, "wasi-detect-host v2"),
                port,
            )
        })
        .1
}

/// `process` once its v2 server at `port` says it is ready.
fn wait_ready(mut process: Process, port: u16, what: &str) -> Process {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(Some(status)) = process.child.try_wait() {
            panic!("{what} exited: {status}");
        }
        let ready = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            && send(
                format!("127.0.0.1:{port}").parse().unwrap(),
                &Request::get("/v2/health/ready"),
            )
            .status
                == 200;
        if ready {
            return process;
        }
        assert!(Instant::now() < deadline, "{what} not ready in 120 s");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The native build with the host's ONNX Runtime, whose answers the build
/// over the v2 server must give.
fn native() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| Server::start(ServerConfig::default()))
}

/// The folder spin-kserve.toml mounts as /models: each model's manifest
/// and labels (the weights are on the server) and the example photos.
fn mounted_models() -> PathBuf {
    static FOLDER: OnceLock<TempModels> = OnceLock::new();
    FOLDER
        .get_or_init(|| {
            let manifest = std::fs::read_to_string(root().join("spin-kserve.toml")).unwrap();
            let models = TempModels::new("kserve");
            let mut mounted = 0;
            for line in manifest.lines().map(str::trim) {
                let line = line.strip_prefix("{ source = ").unwrap_or(line);
                let Some(path) = line.strip_prefix("\"models/") else {
                    continue;
                };
                let path = path.split('"').next().unwrap();
                if let Some((model, file)) = path.split_once('/') {
                    models.model_from(model, model, &[file]);
                    mounted += 1;
                }
            }
            assert_eq!(
                mounted,
                2 * MODELS.len(),
                "spin-kserve.toml mounts other files"
            );
            models
        })
        .0
        .clone()
}

/// The build over the v2 server at `port`, as Spin runs spin-kserve.toml:
/// its files, its settings as application variables (`vars` on top), a
/// fresh instance per request unless `reuse`.
fn detector(port: u16, vars: &[(&str, &str)], reuse: bool) -> Server {
    let mut config_vars = vec![
        (
            "inference_url".to_string(),
            format!("http://127.0.0.1:{port}"),
        ),
        ("model".into(), "nanodet".into()),
    ];
    config_vars.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Server::start(ServerConfig {
        config_vars,
        models: Some(mounted_models()),
        name_the_model: false,
        wasm: Some(kserve_component()),
        instance_reuse: reuse,
        ..ServerConfig::spin()
    })
}

/// tests/kserve/faulty.py in front of the v2 server.
struct Faulty {
    port: u16,
    record: PathBuf,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    _process: Process,
}

impl Faulty {
    fn start() -> Faulty {
        Faulty::start_before(v2_server())
    }

    /// In front of the v2 server at `upstream`.
    fn start_before(upstream: u16) -> Faulty {
        let port = free_port();
        let record = std::env::temp_dir().join(format!("wasi-detect-kserve-{port}"));
        std::fs::create_dir_all(&record).unwrap();
        let mut child = Command::new(kserve_python())
            .arg(root().join("tests/kserve/faulty.py"))
            .args([port.to_string(), upstream.to_string()])
            .arg(&record)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start tests/kserve/faulty.py");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut faulty = Faulty {
            port,
            record,
            stdin,
            stdout,
            _process: Process::new(child),
        };
        faulty.expect("ok listening");
        faulty
    }

    fn expect(&mut self, want: &str) {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), want);
    }

    fn mode(&mut self, mode: &str) {
        writeln!(self.stdin, "{mode}").unwrap();
        self.expect(&format!("ok {mode}"));
    }
}

#[test]
fn every_photo_through_a_kserve_server_gives_the_native_answers() {
    assert_photos_match_native_over(v2_server(), "over kserve");
}

#[test]
fn every_photo_through_the_hosts_v2_server_gives_the_native_answers() {
    assert_photos_match_native_over(host_v2_server(), "over wasi-detect-host v2");
}

fn assert_photos_match_native_over(port: u16, label: &str) {
    let server = detector(port, &[], false);
    for (model, threshold) in MODELS {
        let tolerance = Tolerance {
            threshold,
            ..VS_NATIVE
        };
        let path = format!("/predict?model={model}");
        let mut found = 0;
        for photo in PHOTOS {
            let ours = server.post_fixture(&path, photo);
            assert_eq!(ours.status, 200, "{model}, {photo}: {}", ours.text());
            let want = native().post_fixture(&path, photo);
            assert_eq!(want.status, 200, "native {model}, {photo}: {}", want.text());
            let (ours, want) = (api_detections(&ours.json()), api_detections(&want.json()));
            assert_twins(photo, tolerance, (label, &ours), ("native", &want));
            found += ours.len();
        }
        assert!(found >= PHOTOS.len(), "{model} finds {found} objects");
    }
}

#[test]
fn tritonclient_reads_our_requests_and_answers_as_we_do() {
    check_with_tritonclient(v2_server());
}

/// The host's v2 server seen by tritonclient: it takes tritonclient's
/// binary request, and tritonclient reads its answers as ours.
#[test]
fn tritonclient_and_the_hosts_v2_server_agree() {
    check_with_tritonclient(host_v2_server());
}

/// Each model once through a proxy that records the provider's request and
/// the server's answer at `port`; tritonclient sends the same input to the
/// same server and decodes the recorded answer: equal outputs.
fn check_with_tritonclient(port: u16) {
    let mut faulty = Faulty::start_before(port);
    faulty.mode("record");
    let server = detector(faulty.port, &[], false);
    for (model, _) in MODELS {
        let r = server.post_fixture(&format!("/predict?model={model}"), "astronaut.jpg");
        assert_eq!(r.status, 200, "{}", r.text());
        let out = Command::new(kserve_python())
            .arg(root().join("tests/kserve/triton_check.py"))
            .arg(format!("http://127.0.0.1:{port}"))
            .arg(model)
            .arg(&faulty.record)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{model}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.lines().count() >= 1 && text.lines().all(|l| l.ends_with(" equal")),
            "{text}"
        );
    }
}

#[test]
fn a_server_that_misbehaves_is_a_json_error_and_the_next_request_works() {
    let mut faulty = Faulty::start();
    // Reused instances keep the model's metadata, so the failure comes at
    // the inference; fresh ones (Spin) ask for the metadata first.
    for reuse in [true, false] {
        let server = detector(faulty.port, &[("inference_timeout", "1")], reuse);
        let ok = |server: &Server, case: &str| {
            let r = server.post_fixture("/predict", "camera.png");
            assert_eq!(r.status, 200, "reuse {reuse}, after {case}: {}", r.text());
        };
        ok(&server, "the start");
        let cases = [
            (
                "error",
                502,
                "inference_failed",
                "the model failed (test proxy)",
            ),
            ("garbage", 502, "inference_failed", "not v2's"),
            ("truncate", 502, "inference_failed", "cut off"),
            ("oversize", 502, "inference_failed", "1073741824 bytes"),
            ("reset", 502, "inference_failed", "127.0.0.1"),
            ("down", 502, "inference_failed", "could not be reached"),
            ("slow", 504, "inference_timeout", "within 1 s"),
        ];
        for (mode, status, code, says) in cases {
            faulty.mode(mode);
            let start = Instant::now();
            let r = server.post_fixture("/predict", "camera.png");
            let message = r.assert_error(status, code);
            assert!(message.contains(says), "reuse {reuse}, {mode}: {message}");
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "reuse {reuse}, {mode}: {:?}",
                start.elapsed()
            );
            faulty.mode(if mode == "down" { "up" } else { "pass" });
            ok(&server, mode);
        }
        // Outputs of another shape than the metadata's: found by the
        // provider where the metadata is known.
        faulty.mode("shape");
        let r = server.post_fixture("/predict", "camera.png");
        let message = r.assert_error(502, "inference_failed");
        assert!(message.contains("but its metadata says"), "{message}");
        faulty.mode("pass");
        ok(&server, "shape");
    }
}

#[test]
fn a_model_that_does_not_fit_or_is_not_there_is_a_503_naming_it() {
    let port = v2_server();
    // NanoDet's tensor sent to coco-ssd: refused before it is sent, from
    // the server's metadata (the shapes are checked too: unit tests).
    let server = detector(port, &[("inference_models", "nanodet=coco-ssd")], false);
    let message = server
        .post_fixture("/predict", "camera.png")
        .assert_error(503, "model_unavailable");
    assert!(
        message.contains("model 'coco-ssd' has no input 'input' (its inputs: image)")
            && message.contains("input.shape [1, 3, 416, 416] in /models/nanodet/manifest.json"),
        "{message}"
    );
    let server = detector(port, &[("inference_models", "nanodet=nope")], false);
    let message = server
        .post_fixture("/predict", "camera.png")
        .assert_error(503, "model_unavailable");
    assert!(
        message.contains("answered 404 to model 'nope'"),
        "{message}"
    );
    // No server set: the variable to set, by name.
    let server = Server::start(ServerConfig {
        config_vars: vec![("model".into(), "nanodet".into())],
        models: Some(mounted_models()),
        name_the_model: false,
        wasm: Some(kserve_component()),
        ..ServerConfig::spin()
    });
    let message = server
        .post_fixture("/predict", "camera.png")
        .assert_error(503, "model_unavailable");
    assert!(message.contains("inference_url"), "{message}");
}

#[test]
fn the_build_imports_http_and_no_wasi_nn() {
    let imports = component_interfaces(&kserve_component(), false);
    assert!(
        imports
            .iter()
            .any(|i| i.starts_with("wasi:http/outgoing-handler@0.2")),
        "{imports:?}"
    );
    assert!(
        !imports.iter().any(|i| i.starts_with("wasi:nn/")),
        "{imports:?}"
    );
    assert!(
        imports.iter().any(|i| i.starts_with("wasi:config/store")),
        "{imports:?}"
    );
}

/// Under a host's cap on each linear memory (Spin's
/// `--max-instance-memory`), the detector and the provider each within it:
/// every answer is a 200 or the detector's JSON 413, never a trap, from
/// caps where the detector refuses to ones where both fit.
#[test]
fn under_memory_caps_there_is_an_answer_or_a_413_never_a_trap() {
    let port = host_v2_server();
    let mut answered = Vec::new();
    for mib in [4, 8, 11, 12, 13, 16] {
        let server = Server::start(ServerConfig {
            config_vars: vec![
                ("inference_url".into(), format!("http://127.0.0.1:{port}")),
                ("model".into(), "nanodet".into()),
            ],
            models: Some(mounted_models()),
            name_the_model: false,
            wasm: Some(kserve_component()),
            args: vec!["-W".into(), format!("max-memory-size={}", mib << 20)],
            instance_reuse: false,
            ..ServerConfig::spin()
        });
        for photo in ["camera.png", "astronaut.jpg"] {
            let r = server.post_fixture("/predict", photo);
            match r.status {
                200 => answered.push((mib, photo)),
                413 => {
                    r.assert_error(413, "image_too_large");
                }
                _ => panic!("{mib} MiB, {photo}: {} {}", r.status, r.text()),
            }
        }
    }
    assert!(answered.iter().any(|(mib, _)| *mib == 16), "{answered:?}");
    assert!(!answered.iter().any(|(mib, _)| *mib == 4), "{answered:?}");
}
