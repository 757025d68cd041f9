//! The corpus of awkward and hostile inputs (`tests/corpus/cases.tsv`, files
//! described in `tests/corpus/README.md`), sent one by one to one real
//! server: each must get its status, errors their JSON code, images their
//! detections; and after them all the same server must still be up and
//! answer a good photo correctly.

mod common;

use common::{api_detections, Body, Det, Request, Response, Server, ServerConfig};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

fn corpus(name: &str) -> PathBuf {
    common::root().join("tests/corpus").join(name)
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(corpus(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// What an error answer must be.
#[derive(Debug, Clone, PartialEq)]
enum Code {
    /// A 200: no error.
    None,
    /// The component's JSON error with this code.
    Api(String),
    /// Refused by the HTTP layer before the component saw it: no JSON.
    Http,
}

/// One line of `cases.tsv`.
#[derive(Debug, Clone)]
struct Case {
    name: String,
    content_type: Option<String>,
    query: Option<String>,
    status: u16,
    code: Code,
    like: Option<String>,
    what: String,
}

impl Case {
    fn label(&self) -> String {
        format!(
            "{} [{}{}] ({})",
            self.name,
            self.content_type.as_deref().unwrap_or("no content-type"),
            self.query
                .as_deref()
                .map(|q| format!(", ?{q}"))
                .unwrap_or_default(),
            self.what
        )
    }
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(corpus("cases.tsv")).unwrap();
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    let header = lines.next().expect("a header line");
    assert_eq!(
        header.split('\t').collect::<Vec<_>>(),
        [
            "case",
            "content-type",
            "query",
            "status",
            "code",
            "like",
            "what"
        ]
    );
    let given = |v: &str| (v != "-").then(|| v.to_string());
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            assert_eq!(f.len(), 7, "not 7 tab-separated fields: {line:?}");
            let status: u16 = f[3].parse().unwrap_or_else(|_| panic!("status: {line:?}"));
            let code = match f[4] {
                "-" => Code::None,
                "(http)" => Code::Http,
                c => Code::Api(c.to_string()),
            };
            assert_eq!(status == 200, code == Code::None, "{line:?}");
            Case {
                name: f[0].to_string(),
                content_type: given(f[1]),
                query: given(f[2]),
                status,
                code,
                like: given(f[5]),
                what: f[6].to_string(),
            }
        })
        .collect()
}

/// The request of a case: its file as the body, or the body its `@name`
/// stands for.
fn request(case: &Case) -> Request {
    let mut path = "/predict".to_string();
    if let Some(q) = &case.query {
        path = format!("{path}?{q}");
    }
    let six_mb = || vec![0u8; 6 * 1024 * 1024];
    let (path, headers, body): (String, Vec<(&str, String)>, Body) = match case.name.as_str() {
        "@empty" => (path, vec![], Body::Sized(vec![])),
        "@no-body" => (path, vec![], Body::None),
        "@gif" => (
            path,
            vec![],
            Body::Sized(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec()),
        ),
        "@text" => (path, vec![], Body::Sized(b"not an image".to_vec())),
        "@6mb" => (path, vec![], Body::Sized(six_mb())),
        "@6mb-chunked" => (path, vec![], Body::Chunked(six_mb(), 64 * 1024)),
        "@chunked-and-length" => (
            path,
            vec![("content-length", "10".into())],
            Body::Chunked(read("photo.png"), 7_000),
        ),
        // The component refuses from the header and does not wait for the
        // 6 MB that will never come.
        "@length-over-limit" => (
            path,
            vec![("content-length", "6291456".into())],
            Body::Raw(read("one-pixel.png")),
        ),
        "@length-short" => {
            let png = read("photo.png");
            let half = (png.len() / 2).to_string();
            (path, vec![("content-length", half)], Body::Raw(png))
        }
        "@length-long" => {
            let png = read("photo.png");
            let more = (png.len() + 100).to_string();
            (path, vec![("content-length", more)], Body::Cut(png))
        }
        "@length-not-a-number" => (
            path,
            vec![("content-length", "abc".into())],
            Body::Raw(read("one-pixel.png")),
        ),
        "@length-twice" => {
            let png = read("one-pixel.png");
            let headers = vec![
                ("content-length", png.len().to_string()),
                ("content-length", "10".into()),
            ];
            (path, headers, Body::Raw(png))
        }
        "@long-query" => {
            assert!(case.query.is_none(), "{}: makes its own query", case.name);
            let path = format!("/predict?{}=1", "a".repeat(70_000));
            (path, vec![], Body::Sized(read("one-pixel.png")))
        }
        name if name.starts_with('@') => panic!("no body is made for {name}"),
        file => (path, vec![], Body::Sized(read(file))),
    };
    let mut req = Request::post(&path).framed(body);
    if let Some(ct) = &case.content_type {
        req = req.header("content-type", ct);
    }
    for (k, v) in headers {
        req = req.header(k, &v);
    }
    req
}

/// `/predict`'s filter as a query asks for it (the API's defaults otherwise).
struct Filter {
    threshold: f64,
    max: usize,
    classes: Option<Vec<String>>,
}

fn filter(query: Option<&str>) -> Filter {
    let mut f = Filter {
        threshold: 0.35,
        max: 20,
        classes: None,
    };
    let decode = |s: &str| {
        let s = s.replace('+', " ");
        let mut out = Vec::new();
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    };
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = decode(v);
        match decode(k).as_str() {
            "threshold" => f.threshold = v.parse().unwrap(),
            "max" => f.max = v.parse().unwrap(),
            "classes" => f.classes = Some(v.split(',').map(|c| c.trim().into()).collect()),
            other => panic!("a 200 case with parameter {other}"),
        }
    }
    f
}

/// A 200: a JSON array of well-formed detections, best first, within what
/// the query asked for.
fn assert_detections(case: &Case, r: &Response) -> Vec<Det> {
    let label = case.label();
    assert_eq!(
        r.header("content-type"),
        Some("application/json"),
        "{label}"
    );
    let json = r.json();
    assert!(json.is_array(), "{label}: {json}");
    let dets = api_detections(&json);
    let f = filter(case.query.as_deref());
    assert!(dets.len() <= f.max, "{label}: {} detections", dets.len());
    for d in &dets {
        let [x1, y1, x2, y2] = d.bbox;
        assert!(
            0.0 <= x1 && x1 <= x2 && 0.0 <= y1 && y1 <= y2,
            "{label}: {d:?}"
        );
        // Scores are rounded to 0.001.
        assert!(
            d.score >= f.threshold - 5e-4 && d.score <= 1.0,
            "{label}: {d:?}"
        );
        if let Some(classes) = &f.classes {
            assert!(classes.contains(&d.class), "{label}: {d:?}");
        }
    }
    assert!(
        dets.windows(2).all(|w| w[0].score >= w[1].score),
        "{label}: not best first: {dets:?}"
    );
    dets
}

/// An error: the status, and the component's JSON error with its code
/// (exactly `{"code", "message"}`), or the HTTP layer's bare refusal.
fn assert_error(case: &Case, r: &Response) {
    let label = case.label();
    let body = String::from_utf8_lossy(&r.body);
    assert_eq!(r.status, case.status, "{label}: {body}");
    match &case.code {
        Code::Api(code) => {
            r.assert_error(case.status, code);
            let json = r.json();
            let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["code", "message"], "{label}: {json}");
        }
        Code::Http => assert!(
            !r.body.starts_with(b"{"),
            "{label}: the component answered, not the HTTP layer: {body}"
        ),
        Code::None => unreachable!(),
    }
}

#[test]
fn every_corpus_case_gets_its_status_and_the_server_stays_up() {
    let mut server = Server::start(ServerConfig::default());
    let cases = cases();
    let start = Instant::now();
    // The detections of each 200 case, by case name (the first such line).
    let mut answers: HashMap<String, Vec<Det>> = HashMap::new();
    for case in &cases {
        // Shown only when the test fails: the case a failed exchange was.
        eprintln!("case {}", case.label());
        let r = server.request(request(case));
        if case.status == 200 {
            let body = String::from_utf8_lossy(&r.body);
            assert_eq!(r.status, 200, "{}: {body}", case.label());
            let dets = assert_detections(case, &r);
            answers.entry(case.name.clone()).or_insert(dets);
        } else {
            assert_error(case, &r);
        }
    }
    println!(
        "{} corpus cases in {:.1} s",
        cases.len(),
        start.elapsed().as_secs_f64()
    );

    // Variants of a photo find what the photo shows, where it is shown: the
    // same best detection, in class and box.
    for case in cases.iter().filter(|c| c.like.is_some()) {
        let like = case.like.as_deref().unwrap();
        let want = answers
            .get(like)
            .unwrap_or_else(|| panic!("{}: like {like}, which is no 200 case", case.label()));
        let want = want
            .first()
            .unwrap_or_else(|| panic!("{like} finds nothing to compare with"));
        let got = answers[&case.name]
            .first()
            .unwrap_or_else(|| panic!("{}: nothing found; {like} finds {want:?}", case.label()));
        assert!(
            got.class == want.class && got.iou(want) > 0.8,
            "{}: best {got:?}, {like}'s best {want:?} (IoU {:.2})",
            case.label(),
            got.iou(want)
        );
    }

    // After all that, the same server still answers a good photo correctly.
    assert!(server.is_running(), "the host has exited");
    let r = server.post_fixture("/predict", "astronaut.jpg");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let dets = api_detections(&r.json());
    assert!(
        dets.iter().any(|d| d.class == "person" && d.score > 0.6),
        "{dets:?}"
    );
    assert!(server.is_running(), "the host has exited");
}

/// docs/hardening.md's table of the corpus, as rendered from `cases.tsv`.
fn docs_table(cases: &[Case]) -> String {
    let mut table = String::from(
        "| case | content-type | query | status | code | what |\n| --- | --- | --- | --- | --- | --- |\n",
    );
    let quoted = |v: Option<&str>| v.map(|v| format!("`{v}`")).unwrap_or_default();
    for case in cases {
        let code = match &case.code {
            Code::None => String::new(),
            Code::Api(code) => format!("`{code}`"),
            Code::Http => "(HTTP server)".into(),
        };
        table.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} |\n",
            case.name,
            quoted(case.content_type.as_deref()),
            quoted(case.query.as_deref()),
            case.status,
            code,
            case.what.replace('|', "\\|")
        ));
    }
    table
}

#[test]
fn the_hardening_page_lists_every_case_with_its_answer() {
    let page = std::fs::read_to_string(common::root().join("docs/hardening.md")).unwrap();
    let table = docs_table(&cases());
    assert!(
        page.contains(&table),
        "docs/hardening.md's corpus table is not cases.tsv's; it should read:\n\n{table}"
    );
}
