//! The portable build (`make portable`): the detector composed with the
//! wasi-nn provider (tract) and the settings component (Spin's application
//! variables), so it needs no wasi-nn from the host. Served by `wasmtime
//! serve` *without* `-S nn`, it must find what ONNX Runtime finds natively,
//! and import nothing Spin 3 does not provide.

mod common;

use common::{
    agreement_with_coco_ssd, coco_ssd_reference, component, fixture, portable_component, Backend,
    Reference, Request, Server, ServerConfig, TempModels, PHOTOS, PORTABLE_MODEL,
};
use std::path::{Path, PathBuf};

/// The interfaces Spin 3's runtime gives a `wasi:http` component (WASI 0.2),
/// which Fermyon Cloud and SpinKube's containerd shim embed too. Spin's own
/// `fermyon:spin/*` interfaces are left out: the detector does not use them.
const SPIN_PROVIDES: &[&str] = &[
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stderr",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stderr",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:clocks/monotonic-clock",
    "wasi:clocks/wall-clock",
    "wasi:filesystem/preopens",
    "wasi:filesystem/types",
    "wasi:http/outgoing-handler",
    "wasi:http/types",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:random/random",
];

/// Spin 3's application variables (`[variables]` in spin.toml), at the
/// version Spin implements, which the settings component imports.
const SPIN_CONFIG: &str = "wasi:config/store@0.2.0-draft-2024-09-27";

fn imports(wasm: &Path) -> Vec<String> {
    common::component_interfaces(wasm, false)
}

#[test]
fn the_portable_build_imports_only_what_spin_provides() {
    let native = imports(&component());
    assert!(
        native.iter().any(|i| i.starts_with("wasi:nn/")),
        "the detector itself imports wasi:nn: {native:?}"
    );
    assert!(
        !native.iter().any(|i| i.starts_with("wasi:config/")),
        "the native build's settings are environment variables: {native:?}"
    );
    let portable = imports(&portable_component());
    println!(
        "imports of the portable build:\n  {}",
        portable.join("\n  ")
    );
    assert!(
        portable.iter().any(|i| i == SPIN_CONFIG),
        "the portable build reads Spin's variables through {SPIN_CONFIG}"
    );
    for import in portable.iter().filter(|i| *i != SPIN_CONFIG) {
        let (interface, version) = import.split_once('@').unwrap_or((import, ""));
        assert!(
            SPIN_PROVIDES.contains(&interface),
            "{import} is not provided by Spin"
        );
        assert!(version.starts_with("0.2."), "{import}: not WASI 0.2");
    }
}

#[test]
fn neither_build_can_reach_the_network() {
    // No sockets and no outgoing HTTP among the imports: whatever the host
    // allows, the component has no way to open a connection.
    for wasm in [component(), portable_component()] {
        for import in imports(&wasm) {
            assert!(
                !import.starts_with("wasi:sockets/")
                    && !import.starts_with("wasi:http/outgoing-handler"),
                "{}: imports {import}",
                wasm.display()
            );
        }
    }
}

#[test]
fn without_host_wasi_nn_the_photos_give_what_each_models_reference_gives() {
    let server = Server::start(ServerConfig::spin());
    // The default is the built-in model, found by name with nothing to load.
    let warm = server.request(Request::get("/warm")).json();
    assert_eq!(
        (warm["model"].as_str(), warm["source"].as_str()),
        (Some(PORTABLE_MODEL), Some("load-by-name")),
        "{warm}"
    );
    let photos: Vec<PathBuf> = PHOTOS.iter().map(|p| fixture(p)).collect();
    let reference = coco_ssd_reference(&photos);
    agreement_with_coco_ssd(&server, "portable", "/predict", &photos, &reference);
    // NanoDet and CenterNet are not built in: the provider reads them from
    // their folders, and they answer as ONNX Runtime does natively.
    for (model, reference, path) in [
        ("nanodet", Reference::NanoDet, "/predict?model=nanodet"),
        (
            "centernet",
            Reference::CenterNet,
            "/predict?model=centernet&max=100",
        ),
    ] {
        let warm = server
            .request(Request::get(&format!("/warm?model={model}")))
            .json();
        assert_eq!(
            (warm["model"].as_str(), warm["source"].as_str()),
            (Some(model), Some("load-by-name")),
            "{warm}"
        );
        common::assert_photos_match_reference(
            &server,
            &format!("portable, {model}"),
            reference,
            path,
        );
    }
    // Errors are the detector's own, whoever runs the model.
    for case in common::bad_requests() {
        let r = server.request(case.request);
        r.assert_error(case.status, case.code);
    }
}

#[test]
fn served_without_settings_it_answers_with_the_model_it_carries() {
    // No WASI_DETECT_MODEL, no variables: the artifact's own default is
    // its built-in model, in both the pre-initialised and code-only builds.
    for wasm in [None, Some(common::portable_code_component())] {
        let server = Server::start(ServerConfig {
            name_the_model: false,
            wasm,
            ..ServerConfig::backend(Backend::Portable)
        });
        let warm = server.request(Request::get("/warm")).json();
        assert_eq!(warm["model"], PORTABLE_MODEL, "{warm}");
        let models = server.request(Request::get("/models")).json();
        assert_eq!(models["default"], PORTABLE_MODEL, "{models}");
    }
}

#[test]
fn a_missing_model_is_a_503_from_the_provider_too() {
    let server = Server::start(ServerConfig {
        env: vec![("WASI_DETECT_MODEL".into(), "no-such-model".into())],
        ..ServerConfig::backend(Backend::Portable)
    });
    let message = server
        .post_fixture("/predict", "chelsea.png")
        .assert_error(503, "model_unavailable");
    assert!(message.contains("no-such-model"), "{message}");
}

/// `/warm`'s `load_ms` (the model's load in this request).
fn load_ms(server: &Server) -> f64 {
    let warm = server.request(Request::get("/warm")).json();
    assert_eq!(warm["loaded_now"], true, "a fresh instance loads: {warm}");
    warm["load_ms"].as_f64().unwrap()
}

#[test]
fn a_fresh_instance_per_request_starts_with_the_model_optimised() {
    // Spin never reuses an instance of a WASIp2 component: every request is a
    // fresh instance, as here (`ServerConfig::spin`, Spin's engine settings
    // too). The pre-initialised build finds its model parsed and optimised
    // in the snapshot; the code-only build parses and optimises it from
    // /models in every request.
    let fresh = |wasm| {
        Server::start(ServerConfig {
            wasm,
            ..ServerConfig::spin()
        })
    };
    let preinitialised = fresh(None);
    let code_only = fresh(Some(common::portable_code_component()));
    let built_in: Vec<f64> = (0..3).map(|_| load_ms(&preinitialised)).collect();
    let from_file: Vec<f64> = (0..3).map(|_| load_ms(&code_only)).collect();
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[1]
    };
    let (built_in, from_file) = (median(built_in), median(from_file));
    assert!(
        built_in * 10.0 < from_file,
        "a built-in model costs no load: {built_in} ms, against {from_file} ms from the file"
    );
    // Every photo, each in a fresh instance, as coco-ssd itself finds it.
    let photos: Vec<PathBuf> = PHOTOS.iter().map(|p| fixture(p)).collect();
    let reference = coco_ssd_reference(&photos);
    agreement_with_coco_ssd(
        &preinitialised,
        "portable, fresh instances",
        "/predict",
        &photos,
        &reference,
    );
}

/// For each core module of a component with data: its active data
/// segments' extent in its memory (first and last initialised byte) and
/// their length.
fn data_extents(component: &[u8]) -> Vec<(u64, u64, u64)> {
    let mut extents = Vec::new();
    let mut module = (u64::MAX, 0, 0);
    for payload in wasmparser::Parser::new(0).parse_all(component) {
        match payload.expect("a valid component") {
            wasmparser::Payload::DataSection(section) => {
                for data in section {
                    let data = data.unwrap();
                    let wasmparser::DataKind::Active { offset_expr, .. } = data.kind else {
                        continue;
                    };
                    let mut ops = offset_expr.get_operators_reader();
                    let wasmparser::Operator::I32Const { value } = ops.read().unwrap() else {
                        panic!("a snapshot's segments are at constant offsets");
                    };
                    let (offset, len) = (value as u32 as u64, data.data.len() as u64);
                    if len > 0 {
                        module.0 = module.0.min(offset);
                        module.1 = module.1.max(offset + len);
                        module.2 += len;
                    }
                }
            }
            wasmparser::Payload::End(_) if module.2 > 0 => {
                extents.push(module);
                module = (u64::MAX, 0, 0);
            }
            _ => {}
        }
    }
    extents
}

#[test]
fn the_built_in_plan_is_dense_enough_for_wasmtime_to_map_it() {
    // wasmtime (and Spin, which embeds it) maps a module's initial memory
    // into each new instance copy-on-write only if its data segments fill
    // at least half of the range they span, or the range is within 16 MiB
    // (`try_static_init`); otherwise every instance copies the snapshot in
    // as it starts, 19 MB on every request on Spin. The bake keeps the
    // plan dense (provider/src/bake.rs, `Model::from_onnx_reader`).
    let provider = std::fs::read(common::preinitialised_provider()).unwrap();
    let (low, high, bytes) = data_extents(&provider)
        .into_iter()
        .max_by_key(|e| e.2)
        .expect("the snapshot has data");
    let span = high - low;
    println!(
        "the snapshot: {bytes} bytes of data over {span} bytes ({:.2}x)",
        span as f64 / bytes as f64
    );
    assert!(
        bytes > 10 << 20,
        "the plan is in the snapshot: {bytes} bytes"
    );
    assert!(
        span < 2 * bytes,
        "{bytes} bytes of data spread over {span} bytes: wasmtime would copy them \
         into every instance instead of mapping them"
    );
}

#[test]
fn a_model_not_built_in_is_still_read_from_the_models_folder() {
    // The same pre-initialised artifact asked for another model: the
    // provider reads <models dir>/<name>/model.onnx, as without a built-in one.
    let models = TempModels::new("portable-models");
    for name in ["nanodet", "nanodet-file"] {
        models.model_from(
            name,
            "nanodet",
            &["manifest.json", "labels.txt", "model.onnx"],
        );
    }
    let server = Server::start(ServerConfig {
        env: vec![("WASI_DETECT_MODEL".into(), "nanodet-file".into())],
        models: Some(models.0.clone()),
        ..ServerConfig::backend(Backend::Portable)
    });
    let warm = server.request(Request::get("/warm")).json();
    assert_eq!(warm["model"], "nanodet-file", "{warm}");
    let people = server.post_fixture("/predict", "astronaut.jpg").json();
    assert_eq!(people[0]["class"], "person", "{people}");
}

/// `wasi-detect-host run --invoke CALL` on the pre-initialised provider.
fn invoke(call: &str) -> String {
    let out = std::process::Command::new(common::host_binary())
        .args(["run", "-S", "cli", "--invoke", call])
        .arg(common::preinitialised_provider())
        .output()
        .expect("run the host");
    assert!(
        out.status.success(),
        "{call}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_optimised_plan_multiplies_with_the_providers_kernel_and_tracts_wasm_simd_ones() {
    // Kernels register themselves through constructors: if they did not
    // run in the component, the plan would fall back to tract's generic
    // ones. Every product with more than one column is the provider's 4x8
    // (provider/src/gemm.rs); matrix-vector products stay with tract's.
    let answer = invoke(&format!(r#"matmul-kernels("{PORTABLE_MODEL}")"#));
    let kernels: Vec<&str> = answer
        .trim()
        .strip_prefix("ok([")
        .and_then(|s| s.strip_suffix("])"))
        .unwrap_or_else(|| panic!("not a list of kernels: {answer}"))
        .split(", ")
        .map(|k| k.trim_matches('"'))
        .collect();
    let ours = kernels
        .iter()
        .filter(|k| **k == "wasi_nn_tract_f32_4x8")
        .count();
    assert!(
        ours >= 30,
        "every convolution is a matrix product, on the provider's kernel: {kernels:?}"
    );
    for kernel in &kernels {
        assert!(
            *kernel == "wasi_nn_tract_f32_4x8" || kernel.starts_with("wasm_f32_"),
            "{kernel} is not a wasm SIMD kernel: {kernels:?}"
        );
    }
}

/// The files a Spin manifest mounts from `models/`: each `"models/..."`
/// path (globs as written) and each `{ source = "models/..." }` folder.
fn mounted_by(manifest: &str) -> Vec<String> {
    let text = std::fs::read_to_string(common::root().join(manifest)).unwrap();
    text.lines()
        .map(str::trim)
        .filter_map(|line| {
            let line = line.strip_prefix("{ source = ").unwrap_or(line);
            let path = line.strip_prefix("\"models/")?;
            Some(path.split('"').next()?.to_string())
        })
        .collect()
}

#[test]
fn what_spin_toml_mounts_serves_the_built_in_model_without_private_mode() {
    // spin.toml mounts little, to fit Akamai Functions' 50 MiB an app: the
    // built-in model's manifest and labels and the example photos.
    let mounted = mounted_by("spin.toml");
    assert_eq!(
        mounted,
        ["coco-ssd/manifest.json", "coco-ssd/labels.txt", "examples"],
        "spin.toml mounts other files: change this test and docs/hosts.md"
    );
    let models = TempModels::new("spin-toml");
    models.model_from(
        PORTABLE_MODEL,
        PORTABLE_MODEL,
        &["manifest.json", "labels.txt"],
    );
    for photo in std::fs::read_dir(common::models_dir().join("examples")).unwrap() {
        let photo = photo.unwrap().path();
        let name = photo.file_name().unwrap().to_str().unwrap().to_string();
        models.write(&format!("examples/{name}"), std::fs::read(&photo).unwrap());
    }
    let server = Server::start(ServerConfig {
        models: Some(models.0.clone()),
        name_the_model: false,
        ..ServerConfig::spin()
    });
    let listed = server.request(Request::get("/models")).json();
    assert_eq!(listed["default"], PORTABLE_MODEL, "{listed}");
    assert_eq!(listed["models"].as_array().unwrap().len(), 1, "{listed}");
    let r = server.post_fixture("/predict", "astronaut.jpg");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(!r.json().as_array().unwrap().is_empty());
    server
        .post_fixture("/predict?model=nanodet", "astronaut.jpg")
        .assert_error(404, "model_not_found");
    // Private mode's files are not there: the page finds that out from
    // /wasi-detect.js and offers the server alone.
    assert_eq!(server.request(Request::get("/wasi-detect.js")).status, 404);
    let out = std::process::Command::new("node")
        .arg(common::root().join("tests/browser/where.mjs"))
        .arg(format!("http://{}/", server.addr))
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("run node tests/browser/where.mjs");
    assert!(out.status.success(), "the browser script failed");
    let page: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(page["disabled"], true, "{page}");
    assert!(
        page["note"]
            .as_str()
            .unwrap()
            .contains("photos go to the server"),
        "{page}"
    );
    let examples = server.request(Request::get("/examples")).json();
    assert!(!examples.as_array().unwrap().is_empty(), "{examples}");

    // spin-full.toml mounts every model and private mode's files.
    let full = mounted_by("spin-full.toml");
    for folder in [
        "nanodet/model.onnx",
        "centernet",
        "browser",
        "coco-ssd/model.onnx*",
    ] {
        assert!(full.iter().any(|m| m == folder), "{folder}: {full:?}");
    }
}
