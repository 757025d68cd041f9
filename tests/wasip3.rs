//! The WASIp3 build for Spin 4 (`dist/wasi-detect-portable-p3.wasm`, from
//! the same source as the WASIp2 one with the `wasip3` feature): exported as
//! `wasi:http/handler` 0.3, served as Spin 4 serves it (`ServerConfig::spin4`:
//! instances reused, several requests offered to one at once). It must give
//! the WASIp2 build's answers, keep one request per instance at a time, and
//! load a model that is not built in once per instance.

mod common;

use common::{
    component_interfaces, portable_component, portable_p3_component, Request, Server, ServerConfig,
    PHOTOS, PORTABLE_MODEL,
};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

#[test]
fn the_wasip3_build_exports_wasi_http_0_3_and_needs_nothing_more_from_the_host() {
    let exports = component_interfaces(&portable_p3_component(), true);
    assert!(
        exports.iter().any(|e| e == "wasi:http/handler@0.3.0"),
        "{exports:?}"
    );
    assert!(
        component_interfaces(&portable_component(), true)
            .iter()
            .any(|e| e.starts_with("wasi:http/incoming-handler@0.2.")),
        "the WASIp2 build stays the one for Spin 3 hosts"
    );
    // What the WASIp2 build imports (Rust's standard library: environment,
    // files, clocks), plus wasi:http 0.3's types; no wasi-nn, no way out.
    let p2 = component_interfaces(&portable_component(), false);
    let p3 = component_interfaces(&portable_p3_component(), false);
    println!("imports of the WASIp3 build:\n  {}", p3.join("\n  "));
    for import in &p3 {
        assert!(
            p2.contains(import) || import == "wasi:http/types@0.3.0",
            "{import}: not imported by the WASIp2 build"
        );
        assert!(
            !import.starts_with("wasi:nn/")
                && !import.starts_with("wasi:sockets/")
                && !import.starts_with("wasi:http/client"),
            "{import}"
        );
    }
}

#[test]
fn under_reuse_every_photo_and_every_error_is_answered_as_the_wasip2_build_answers() {
    let p2 = Server::start(ServerConfig::spin());
    let p3 = Server::start(ServerConfig::spin4());
    // The built-in model, and NanoDet read from its folder by the provider.
    for path in ["/predict", "/predict?model=nanodet&threshold=0.3"] {
        for photo in PHOTOS {
            let (a, b) = (p2.post_fixture(path, photo), p3.post_fixture(path, photo));
            assert_eq!(b.status, 200, "{photo}: {}", b.text());
            assert_eq!(a.text(), b.text(), "{path}, {photo}");
        }
    }
    for (case, again) in common::bad_requests()
        .into_iter()
        .zip(common::bad_requests())
    {
        let answer = p3.request(case.request);
        let message = answer.assert_error(case.status, case.code);
        assert!(
            message.contains(case.message_has),
            "{}: {message}",
            case.what
        );
        assert_eq!(
            p2.request(again.request).text(),
            answer.text(),
            "{}",
            case.what
        );
    }
    let warm = p3.request(Request::get("/warm")).json();
    assert_eq!(warm["model"], PORTABLE_MODEL, "{warm}");
    assert!(
        warm["instance_requests"].as_u64().unwrap() > 1,
        "instances are reused: {warm}"
    );
}

/// `/warm`'s count of the requests its instance has taken.
fn instance_requests(server: &Server) -> u64 {
    let warm = server.request(Request::get("/warm")).json();
    warm["instance_requests"]
        .as_u64()
        .expect("instance_requests")
}

#[test]
fn while_a_request_is_in_an_instance_no_other_request_enters_it() {
    let server = Server::start(ServerConfig::spin4());
    let first = instance_requests(&server);
    // A request that is in its instance, its body not yet all there.
    let mut slow = TcpStream::connect(server.addr).unwrap();
    slow.write_all(
        b"POST /predict HTTP/1.1\r\nhost: x\r\ncontent-type: image/png\r\ncontent-length: 1000\r\n\r\n\x89PNG",
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // Meanwhile every request goes to another instance: the first one,
    // reused, would have counted on from `first`.
    let others: Vec<u64> = (0..3).map(|_| instance_requests(&server)).collect();
    assert_eq!(others, [1, 2, 3], "the instance taking {first} requests");
    // The client gives up on its upload: a JSON 400 from its own
    // instance, which then takes requests again.
    slow.shutdown(std::net::Shutdown::Write).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut answer = String::new();
    slow.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(
        answer.contains("the connection ended before the whole body"),
        "{answer}"
    );
    let counts: Vec<u64> = (0..4).map(|_| instance_requests(&server)).collect();
    assert!(counts.contains(&(first + 2)), "{counts:?}");
}

#[test]
fn a_model_not_built_in_is_loaded_once_per_instance() {
    let server = Server::start(ServerConfig::spin4());
    let loads = |path: &str| {
        let r = server.post_fixture(path, "astronaut.jpg");
        assert_eq!(r.status, 200, "{}", r.text());
        let timing = r.header("server-timing").unwrap().to_string();
        timing.split(", ").any(|step| step.starts_with("load;"))
    };
    assert!(
        loads("/predict?model=nanodet"),
        "the first request loads it"
    );
    assert!(!loads("/predict?model=nanodet"), "the next one finds it");
}

#[test]
fn spin_p3_toml_is_spin_toml_with_the_wasip3_build() {
    // Only the component differs: the same files, variables and routes, so
    // an app moves between Spin 3 and Spin 4 by its manifest's name.
    let manifest = |name: &str| {
        let text = std::fs::read_to_string(common::root().join(name)).unwrap();
        let start = text.find("spin_manifest_version").expect("a Spin manifest");
        text[start..].to_string()
    };
    let (p2, p3) = (manifest("spin.toml"), manifest("spin-p3.toml"));
    assert_eq!(
        p2.replace(
            "dist/wasi-detect-portable.wasm",
            "dist/wasi-detect-portable-p3.wasm"
        ),
        p3
    );
}
