//! Private mode's wasi:nn shim (`web/browser/wasi-nn.js`) on its own, in
//! headless Chromium on onnxruntime-web as `make browser` ships it, without
//! the component: tensors round-trip, errors carry their codes, two
//! contexts do not mix, and every kind of model source loads.
//!
//! `tests/browser/nn.mjs` calls the shim's interfaces in the page, twice
//! (with two onnxruntime-web threads and with one), and prints what it
//! saw; the graphs it runs are made here by
//! `tests/fixtures/make_nn_shim_models.py` (a few hundred bytes each, the
//! same on every run).

mod common;

use common::{python, root};
use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The suite's two runs: onnxruntime-web with 2 threads, and with 1.
const RUNS: [&str; 2] = ["threads", "single"];

/// What tests/browser/nn.mjs saw, run once for all the tests here (a
/// failure to run it fails each of them with the same message).
fn seen() -> &'static Value {
    static SEEN: OnceLock<Result<Value, String>> = OnceLock::new();
    let seen = SEEN.get_or_init(|| {
        if !root()
            .join("tests/browser/node_modules/playwright-core")
            .exists()
        {
            return Err("playwright-core is missing; `make browser-deps` installs it".into());
        }
        let models = root().join("target/nn-shim-models");
        let status = Command::new(python())
            .arg(root().join("tests/fixtures/make_nn_shim_models.py"))
            .arg(&models)
            .status()
            .map_err(|e| format!("run make_nn_shim_models.py: {e}"))?;
        if !status.success() {
            return Err("make_nn_shim_models.py failed".into());
        }
        let out = Command::new("node")
            .arg(root().join("tests/browser/nn.mjs"))
            .arg(&models)
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("run node tests/browser/nn.mjs: {e}"))?;
        if !out.status.success() {
            return Err(
                "tests/browser/nn.mjs failed (its error is above; `make browser` builds models/browser/)"
                    .into(),
            );
        }
        serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("tests/browser/nn.mjs printed no JSON: {e}"))
    });
    seen.as_ref().unwrap_or_else(|e| panic!("{e}"))
}

/// One run's results.
fn run(name: &str) -> &'static Value {
    let r = &seen()[name];
    assert!(r.is_object(), "no results for the {name} run: {}", seen());
    r
}

/// One part of a run's results (`section` in nn.mjs), which must have run
/// to its end.
fn section(run_name: &str, part: &str) -> &'static Value {
    let s = &run(run_name)[part];
    assert!(
        s["failed"].is_null(),
        "{run_name}: the {part} part of the suite threw: {}",
        s["failed"].as_str().unwrap_or_default()
    );
    s
}

/// A float output compared element by element in the page (`checkFloats`).
fn assert_floats(run: &str, what: &str, check: &Value, dims: u64) {
    assert_eq!(check["wantLength"], dims, "{run}: {what}: the input's size");
    assert_eq!(
        check["length"], dims,
        "{run}: {what}: the output has {} elements, want {dims}",
        check["length"]
    );
    assert_eq!(check["dims"], json!([dims]), "{run}: {what}: dimensions");
    assert!(
        check["firstDiff"].is_null(),
        "{run}: {what}: not its own input's answer (the contexts mixed?): first difference {}",
        check["firstDiff"]
    );
}

#[test]
fn tensors_round_trip() {
    for name in RUNS {
        let r = section(name, "tensors");
        let bare = &r["bare"];
        assert_eq!(bare["dims"], json!([2, 3]), "{name}: a tensor's dimensions");
        assert_eq!(bare["ty"], "FP32", "{name}: a tensor's type");
        assert_eq!(
            bare["hex"], bare["want"],
            "{name}: a tensor's data is not its bytes"
        );

        // Bit for bit through an identity graph, every type the shim maps
        // (negative zero, NaN payloads, subnormals and the extremes included).
        for ty in ["FP32", "FP16", "FP64", "U8", "I32", "I64"] {
            let case = &r["identity"][ty];
            assert!(case.is_object(), "{name}: no identity result for {ty}");
            assert_eq!(
                case["got"], case["want"],
                "{name}: {ty} through an identity graph: the output (name, dimensions, type, bytes) is not the input"
            );
        }

        // Input bytes at an odd offset of their buffer.
        for ty in ["FP32", "I64"] {
            let case = &r["unaligned"][ty];
            assert_eq!(
                case["offset"], 1,
                "{name}: {ty}: the input was meant to be unaligned: {case}"
            );
            assert_eq!(
                case["got"], case["want"],
                "{name}: {ty} from unaligned bytes: the output is not the input"
            );
            assert_eq!(
                case["inputUntouched"], true,
                "{name}: {ty}: the unaligned input tensor's bytes changed"
            );
        }
    }
}

#[test]
fn errors_carry_their_codes() {
    // Case (in nn.mjs), the code, and what the message must mention.
    let cases: &[(&str, &str, &[&str])] = &[
        ("unknownName", "not-found", &["'no-such-model'"]),
        // Not found on the object's prototype either.
        ("inheritedName", "not-found", &["'constructor'"]),
        ("garbageBytes", "invalid-encoding", &["not an ONNX model"]),
        (
            "garbageByName",
            "invalid-encoding",
            &["'garbage'", "not an ONNX model"],
        ),
        ("openvino", "invalid-encoding", &["openvino", "ONNX"]),
        ("gpu", "unsupported-operation", &["gpu", "cpu"]),
        ("twoParts", "invalid-argument", &["one part", "2"]),
        (
            "http404",
            "not-found",
            &["'http-404'", "/models/no-such-file.onnx", "HTTP 404"],
        ),
        (
            "fetchRejects",
            "not-found",
            &["'offline'", "Failed to fetch"],
        ),
        ("bodyFails", "not-found", &["'cut-off'", "network error"]),
        (
            "sourceRejects",
            "not-found",
            &["'async-rejects'", "the model store is offline"],
        ),
        ("wrongInputName", "invalid-argument", &["'nope'", "x"]),
        ("missingInput", "invalid-argument", &["'x'"]),
        (
            "shortData",
            "invalid-argument",
            &["20 bytes", "[2,3]", "24"],
        ),
        ("longData", "invalid-argument", &["28 bytes", "24"]),
        // onnxruntime-web checks the element type when it runs the graph.
        ("wrongType", "runtime-error", &["int32", "float"]),
        ("bf16", "unsupported-operation", &["BF16"]),
        ("notATensor", "invalid-argument", &["'x'", "not a tensor"]),
        // Each createWasiNn has its own classes.
        (
            "otherInstancesTensor",
            "invalid-argument",
            &["'x'", "not a tensor"],
        ),
    ];
    for name in RUNS {
        let r = section(name, "errors");
        let errors = &r["cases"];
        for (case, code, needles) in cases {
            let e = &errors[case];
            assert_eq!(e["threw"], true, "{name}: {case} did not fail: {e}");
            assert_eq!(
                e["hasPayload"], true,
                "{name}: {case} threw something without a `payload` (jco would trap the component): {}",
                e["raw"]
            );
            assert_eq!(
                e["isNnError"], true,
                "{name}: {case}: the payload is not the shim's wasi:nn error resource: {e}"
            );
            assert_eq!(
                e["code"], *code,
                "{name}: {case}: wrong error code (message: {})",
                e["data"]
            );
            let data = e["data"].as_str().unwrap_or_default();
            for needle in *needles {
                assert!(
                    data.contains(needle),
                    "{name}: {case}: the message {data:?} does not mention {needle:?}"
                );
            }
        }
        // A context that refused bad input still computes.
        assert_eq!(
            errors["afterErrors"],
            json!({"threw": false, "value": r["afterErrorsWant"]}),
            "{name}: the context after its errors"
        );
        // A code wasi:nn does not have becomes `unknown`.
        assert_eq!(
            r["errorResource"],
            json!({"code": "unknown", "data": "why"}),
            "{name}: an error resource made with an unknown code"
        );
    }
}

#[test]
fn two_contexts_do_not_mix() {
    for name in RUNS {
        let r = section(name, "contexts");
        // Two graphs (two models), loaded and computing at once.
        let two = &r["twoGraphs"];
        assert_eq!(
            two["names"],
            json!([["y"], ["b", "c"]]),
            "{name}: each graph's outputs by name"
        );
        let n = 1 << 16;
        assert_floats(name, "add-one's y", &two["y"], n);
        assert_floats(name, "add-thousand's b", &two["b"], n);
        assert_floats(name, "add-thousand's c", &two["c"], n);

        // One model loaded twice, inputs of different sizes.
        let twice = &r["sameModelTwice"];
        assert_floats(name, "add-one loaded twice, first", &twice["first"], n);
        assert_floats(
            name,
            "add-one loaded twice, second",
            &twice["second"],
            n / 2,
        );

        // Two contexts of one graph, four computes at once across them.
        let lengths = [n, n, n / 2, 1000];
        let same = r["sameGraph"].as_array().expect("sameGraph results");
        assert_eq!(same.len(), lengths.len(), "{name}: sameGraph results");
        for (i, (check, len)) in same.iter().zip(lengths).enumerate() {
            assert_floats(name, &format!("one graph's compute {i}"), check, len);
        }
        assert_eq!(
            r["earlierOutputKept"], true,
            "{name}: an output changed when its context computed again"
        );
    }
}

#[test]
fn models_load_by_name_from_every_source() {
    for name in RUNS {
        let r = section(name, "sources");
        for source in [
            "url-string",
            "url-object",
            "bytes",
            "array-buffer",
            "async-bytes",
            "async-url",
            "sync-bytes",
        ] {
            let s = &r["byName"][source];
            assert_eq!(
                s["threw"], false,
                "{name}: load-by-name of a model given as {source} failed: {s}"
            );
            assert_eq!(
                s["value"], s["want"],
                "{name}: the model given as {source} did not compute its answer"
            );
        }
        assert_eq!(
            r["sourcesAsked"],
            json!(["async-bytes", "async-url", "sync-bytes"]),
            "{name}: a models function is called with the model's name"
        );
        // The URLs went through the `fetch` given to createWasiNn: the
        // string, the URL object, and the URL a function gave.
        let fetched = r["fetched"].as_array().expect("fetched URLs");
        let identity = fetched
            .iter()
            .filter(|u| *u == "/models/identity-fp32.onnx")
            .count();
        assert_eq!(identity, 3, "{name}: the URLs fetched: {fetched:?}");
        assert_eq!(
            r["defaultFetch"],
            json!({"threw": false, "value": r["defaultFetchWant"]}),
            "{name}: a model URL with the page's own fetch"
        );
    }
}

#[test]
fn runs_with_threads_and_without() {
    let threads = run("threads");
    assert_eq!(
        threads["crossOriginIsolated"], true,
        "the test page is not cross-origin isolated (COOP/COEP)"
    );
    // onnxruntime-web falls back to one thread, saying so only in a
    // warning, when it cannot have more.
    assert_eq!(
        (&threads["numThreads"], &threads["numThreadsAtEnd"]),
        (&json!(2), &json!(2)),
        "onnxruntime-web did not keep its 2 threads"
    );
    assert!(
        threads["workers"].as_u64() >= Some(1),
        "no worker thread was started: {}",
        threads["workers"]
    );
    assert_eq!(run("single")["numThreads"], 1, "the single-threaded run");
    for name in RUNS {
        let r = run(name);
        assert_eq!(r["version"], "0.2.0-rc-2024-10-28", "{name}");
        assert_eq!(
            r["imports"],
            json!([
                "wasi:nn/errors@0.2.0-rc-2024-10-28",
                "wasi:nn/graph@0.2.0-rc-2024-10-28",
                "wasi:nn/inference@0.2.0-rc-2024-10-28",
                "wasi:nn/tensor@0.2.0-rc-2024-10-28"
            ]),
            "{name}: the import object's interfaces"
        );
        assert_eq!(
            r["importsAreTheInterfaces"], true,
            "{name}: imports() is not the interfaces"
        );
        assert_eq!(
            r["consoleErrors"],
            json!([]),
            "{name}: errors in the page's console"
        );
    }
}
