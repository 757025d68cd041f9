//! The HTTP handler: glues the host's request and response to the pure
//! modules. Every failure becomes a JSON error with its status; nothing here
//! panics on client input.

use crate::api::{self, AnswerFormat, ApiError, BodyBuffer, Route, StaticFile, WarmReport};
use crate::decimal;
use crate::decode::{self, Format};
use crate::inference::{self, RunError, Session};
use crate::memory::{Budget, Counting};
use crate::model::{self, Model};
use crate::postprocess::Filter;
use crate::settings::Settings;
use futures::{Stream, StreamExt};
use std::cell::Cell;
use std::fs::File;
use std::io::Read;
use std::rc::Rc;
use std::time::{Instant, UNIX_EPOCH};

/// Every allocation counted: the `max_memory` setting is held against the
/// bytes the instance holds (`memory::Budget`).
#[global_allocator]
static ALLOCATOR: Counting<std::alloc::System> = Counting::new(std::alloc::System);

/// What a request may hold after its tensor, besides what decoding and
/// preprocessing reckon: the engine's outputs as the host writes them, read
/// in place (NanoDet's 1.8 MB, a YOLO model's 2.7 MB), with room to spare.
const OUTPUTS: u64 = 8 << 20;

/// The instance's memory below its heap: data and stack (the linker's
/// `__heap_base`).
fn fixed_memory() -> u64 {
    extern "C" {
        static __heap_base: u8;
    }
    // Only the symbol's address is taken, never its value.
    std::ptr::addr_of!(__heap_base) as usize as u64
}

/// A request as the handler sees it, whichever wasi:http carried it
/// (`http_p2`, `http_p3`).
pub(crate) struct Request<B> {
    pub method: String,
    pub path_with_query: String,
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body's chunks as they arrive; an error says why it ended early.
    pub body: B,
}

impl<B> Request<B> {
    /// The values of a header, in order.
    fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        let fields = self.headers.iter();
        let named = fields.filter(move |(n, _)| n.eq_ignore_ascii_case(name));
        named.map(|(_, value)| value.as_slice())
    }

    /// The first value of a header, if it is text.
    fn header(&self, name: &str) -> Option<String> {
        let value = self.values(name).next()?;
        String::from_utf8(value.to_vec()).ok()
    }

    /// A header that is a comma-separated list, whose items may come in
    /// several fields: all of them, joined.
    fn list_header(&self, name: &str) -> Option<String> {
        let values = self
            .values(name)
            .filter_map(|v| std::str::from_utf8(v).ok());
        let values: Vec<&str> = values.collect();
        (!values.is_empty()).then(|| values.join(","))
    }
}

thread_local! {
    /// How many requests this instance has taken (`/warm` reports it): 1
    /// on a host that makes an instance per request.
    static REQUESTS: Cell<u64> = const { Cell::new(0) };
}

/// The answer to a request: what it asked for, or a JSON error.
pub(crate) async fn answer<B>(request: Request<B>) -> Response
where
    B: Stream<Item = Result<Vec<u8>, String>> + Unpin,
{
    REQUESTS.set(REQUESTS.get() + 1);
    match handle_request(request).await {
        Ok(response) => response,
        Err(error) => error_response(&error),
    }
}

/// An answer, written to the host's response type by `http_p2` or `http_p3`.
///
/// Not spin-sdk's `Response`: with its header map, its conversions and the
/// Unicode tables of `str::to_lowercase` (header names are lower-cased) it
/// was 75 KB of the component; these names are lower-case ASCII already.
pub(crate) struct Response {
    pub status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    /// A file to send after `body` (then empty), a chunk at a time.
    file: Option<File>,
}

/// How much of a file is read into memory at once: a 15 MB model is never
/// held whole, and linear memory, which only grows, stays where it was.
const FILE_CHUNK: usize = 64 * 1024;

impl Response {
    fn new(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            file: None,
        }
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
        self
    }

    fn body(mut self, body: impl Into<Vec<u8>>) -> Response {
        self.body = body.into();
        self
    }

    /// The headers as wasi:http's fields take them.
    pub fn fields(&self) -> Vec<(String, Vec<u8>)> {
        let headers = self.headers.iter();
        let fields = headers.map(|(name, value)| (name.to_string(), value.clone().into_bytes()));
        fields.collect()
    }

    /// Writes the body, then the file a chunk at a time, through `send`.
    ///
    /// The status and headers are gone by then: a file that cannot be read
    /// to its end leaves the body short of its content-length, and the host
    /// breaks the answer off, so the client cannot take it for the whole file.
    pub async fn write_body(
        self,
        mut send: impl AsyncFnMut(Vec<u8>) -> Result<(), String>,
    ) -> Result<(), String> {
        send(self.body).await?;
        let Some(mut file) = self.file else {
            return Ok(());
        };
        loop {
            let mut chunk = vec![0; FILE_CHUNK];
            let n = file
                .read(&mut chunk)
                .map_err(|e| format!("reading the file: {e}"))?;
            if n == 0 {
                return Ok(());
            }
            chunk.truncate(n);
            send(chunk).await?;
        }
    }
}

async fn handle_request<B>(request: Request<B>) -> Result<Response, ApiError>
where
    B: Stream<Item = Result<Vec<u8>, String>> + Unpin,
{
    let if_none_match = request.header("if-none-match");
    let accepts_gzip = api::accepts_gzip(request.list_header("accept-encoding").as_deref());
    let path_and_query = request.path_with_query.clone();
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((&path_and_query, ""));
    match api::route(&request.method, path)? {
        Route::Preflight => Ok(preflight()),
        Route::Page => Ok(page()),
        Route::Examples => Ok(examples(&settings()?)),
        Route::Example(name) => example(&settings()?, &name),
        Route::Models => Ok(models(&settings()?)),
        Route::File(file) => {
            static_file(&settings()?, &file, if_none_match.as_deref(), accepts_gzip)
        }
        Route::Warm => {
            let settings = settings()?;
            let name = api::warm_query(query)?;
            let model = requested_model(&settings, name.as_deref())?;
            warm(&model)
        }
        Route::Predict => {
            let settings = settings()?;
            let query = api::predict_query(query)?;
            let format = api::image_format(request.header("content-type").as_deref())?;
            let expected = api::content_length(request.header("content-length").as_deref())?;
            let model = requested_model(&settings, query.model.as_deref())?;
            let threshold = settings.threshold.unwrap_or(model.manifest.threshold);
            let filter = query.filter(&model.labels, threshold, settings.max)?;
            let budget = Budget {
                max_memory: settings.max_memory,
                fixed: fixed_memory(),
            };
            predict(
                request,
                format,
                expected,
                &model,
                &filter,
                query.format,
                budget,
            )
            .await
        }
    }
}

/// The model a request names (`?model=`), or else the default: a 404 when
/// this deployment does not serve it, a 503 when its folder cannot be used.
fn requested_model(settings: &Settings, requested: Option<&str>) -> Result<Rc<Model>, ApiError> {
    let name = requested.unwrap_or(&settings.model);
    if name != settings.model && !inference::has_read(name) {
        check_served(settings, name)?;
    }
    inference::model(settings, name).map_err(ApiError::model_unavailable)
}

/// A 404 naming the models served when this deployment does not serve `name`.
fn check_served(settings: &Settings, name: &str) -> Result<(), ApiError> {
    let served = model::served(settings);
    if !served.iter().any(|s| s == name) {
        return Err(ApiError::model_not_found(name, served));
    }
    Ok(())
}

/// `GET /models`: every model served, with what a client needs to call it.
fn models(settings: &Settings) -> Response {
    let list: Vec<api::ModelSummary> = model::served(settings)
        .into_iter()
        .map(|name| {
            let model = inference::model(settings, &name).map(|m| api::ModelFacts {
                family: m.manifest.decoder.family(),
                input_size: m.manifest.preprocess.side,
                classes: m.labels.len(),
                threshold: settings.threshold.unwrap_or(m.manifest.threshold),
            });
            api::ModelSummary { name, model }
        })
        .collect();
    json_response(200, api::models_json(&settings.model, &list), "")
}

/// The status of a run that gave no outputs.
fn run_error(e: RunError) -> ApiError {
    match e {
        RunError::Engine(m) => ApiError::inference_failed(m),
        RunError::Timeout(m) => ApiError::new(504, "inference_timeout", m),
        RunError::Unusable(m) => ApiError::model_unavailable(m),
    }
}

fn settings() -> Result<Settings, ApiError> {
    Settings::from_vars(std::env::vars()).map_err(|e| ApiError::invalid_setting(&e))
}

/// Time spent in each step, for the `server-timing` header.
#[derive(Default)]
struct Timings(Vec<(&'static str, f64)>);

impl Timings {
    fn time<T>(&mut self, step: &'static str, f: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = f();
        self.0.push((step, start.elapsed().as_secs_f64() * 1e3));
        out
    }

    fn header(&self) -> String {
        let steps = self
            .0
            .iter()
            .map(|(name, ms)| format!("{name};dur={}", milliseconds(*ms)));
        steps.collect::<Vec<_>>().join(", ")
    }
}

/// A `Server-Timing` duration: milliseconds to 0.01.
fn milliseconds(ms: f64) -> String {
    decimal::fixed(ms, 2).unwrap_or_else(|| "0".into())
}

async fn predict<B>(
    request: Request<B>,
    format: Format,
    expected_len: Option<usize>,
    model: &Model,
    filter: &Filter,
    answer: AnswerFormat,
    budget: Budget,
) -> Result<Response, ApiError>
where
    B: Stream<Item = Result<Vec<u8>, String>> + Unpin,
{
    let mut timings = Timings::default();
    let start = Instant::now();
    let body = read_body(request.body, expected_len).await?;
    timings
        .0
        .push(("body", start.elapsed().as_secs_f64() * 1e3));

    // A large JPEG is decoded only as large as the letterbox needs, and a
    // PNG's rows are resized as they are decoded. What the request will
    // hold from here on is reserved before decoding, or it is refused.
    let pre = &model.manifest.preprocess;
    let reserve = |decoding: u64, decoded: (u32, u32)| {
        let need = decoding + pre.memory(decoded) + OUTPUTS;
        let live = ALLOCATOR.live() as u64;
        budget.reserve(need, live).map_err(|free| (need, free))
    };
    let stored = timings.time("decode", || {
        decode::decode_within(
            &body,
            format,
            |w, h| pre.needed_size(w, h),
            pre.filter,
            reserve,
        )
    })?;
    drop(body);
    let image = timings.time("orient", || stored.upright());
    let (resized, letterbox) = timings.time("resize", || pre.fit_image(image));
    let tensor = timings.time("tensor", || pre.to_tensor(&resized, &letterbox));
    drop(resized);

    let run = |session: &Session| {
        let mut t = Timings::default();
        let out = session.run(model, &tensor, &mut t.0);
        (out, t, session.load_ms)
    };
    let ((outputs, inference_timing, load_ms), loaded_now) =
        inference::with_session(model, run).map_err(run_error)?;
    if loaded_now {
        // On hosts that make an instance per request (Spin), every request
        // pays this: it must show.
        timings.0.push(("load", load_ms));
    }
    timings.0.extend(inference_timing.0);
    let outputs = outputs.map_err(run_error)?;
    let outputs = outputs.floats();

    let detections = timings
        .time("postprocess", || {
            model.manifest.decoder.detect(&outputs, &letterbox, filter)
        })
        .map_err(|e| ApiError::inference_failed(e.0))?;
    let json = timings.time("json", || {
        api::detections_json(&detections, &model.labels, answer)
    });
    Ok(json_response(200, json, &timings.header()))
}

/// Reads the body as it arrives, stopping at the size limit.
async fn read_body(
    mut body: impl Stream<Item = Result<Vec<u8>, String>> + Unpin,
    expected: Option<usize>,
) -> Result<Vec<u8>, ApiError> {
    let mut buffer = BodyBuffer::with_expected(expected);
    while let Some(chunk) = body.next().await {
        // Typically the client closed its side before sending all the bytes
        // its content-length announced.
        let chunk = chunk.map_err(|e| {
            ApiError::bad_request(format!("the body ended early or could not be read: {e}"))
        })?;
        buffer.push(&chunk)?;
    }
    buffer.finish()
}

fn warm(model: &Model) -> Result<Response, ApiError> {
    // A black image: the same path as a real request, with nothing in it.
    let (tensor, _) = model.manifest.preprocess.to_input_tensor(&[0, 0, 0], 1, 1);
    let run = |session: &Session| {
        let start = Instant::now();
        let result = session.run(model, &tensor, &mut Vec::new());
        let ms = start.elapsed().as_secs_f64() * 1e3;
        (result.map(|_| ms), session.source.clone(), session.load_ms)
    };
    let ((inference_ms, source, load_ms), loaded_now) =
        inference::with_session(model, run).map_err(run_error)?;
    let report = WarmReport {
        model: model.name.clone(),
        source,
        loaded_now,
        load_ms,
        inference_ms: inference_ms.map_err(run_error)?,
        memory_bytes: core::arch::wasm32::memory_size(0) as u64 * 65536,
        instance_requests: REQUESTS.get(),
    };
    let timing = format!(
        "load;dur={}, inference;dur={}",
        milliseconds(load_ms),
        milliseconds(report.inference_ms)
    );
    Ok(json_response(200, report.to_json(), &timing))
}

/// The demo page, a single self-contained file.
const PAGE: &str = include_str!("../web/index.html");

fn page() -> Response {
    Response::new(200)
        .header("content-type", "text/html; charset=utf-8")
        .header("cache-control", "no-cache")
        // Everything the page needs is in it or on this origin. Private
        // mode imports this origin's module scripts, compiles WebAssembly
        // and starts workers (onnxruntime-web's threads, some from blobs).
        .header(
            "content-security-policy",
            "default-src 'self'; img-src 'self' blob: data:; style-src 'unsafe-inline'; \
             script-src 'self' 'unsafe-inline' 'wasm-unsafe-eval'; worker-src 'self' blob:; \
             connect-src 'self'",
        )
        // Cross-origin isolated, so SharedArrayBuffer exists and
        // onnxruntime-web can run on several threads.
        .header("cross-origin-opener-policy", "same-origin")
        .header("cross-origin-embedder-policy", "require-corp")
        .body(PAGE)
}

/// A path under the models folder.
fn in_models_dir(settings: &Settings, path: &str) -> String {
    format!("{}/{path}", settings.models_dir.trim_end_matches('/'))
}

/// The folder of example photos, beside the model folders.
fn examples_dir(settings: &Settings) -> String {
    in_models_dir(settings, api::EXAMPLES_PATH.trim_start_matches('/'))
}

/// The example photos' names; none when the folder is not mounted.
fn examples(settings: &Settings) -> Response {
    let names = std::fs::read_dir(examples_dir(settings))
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok());
    json_response(200, api::examples_json(names), "")
}

fn example(settings: &Settings, name: &str) -> Result<Response, ApiError> {
    // `route` only lets plain photo file names through.
    let media_type = api::example_type(name).unwrap_or("application/octet-stream");
    let bytes = std::fs::read(format!("{}/{name}", examples_dir(settings)))
        .map_err(|_| ApiError::new(404, "not_found", format!("no example photo {name}")))?;
    Ok(file_headers(Response::new(200), media_type)
        .header("cache-control", "public, max-age=3600")
        .body(bytes))
}

/// A file of the models folder (private mode's, or a served model's): a 304
/// when `if-none-match` names the current ETag of what would be sent, else
/// the file, streamed. When the client takes gzip and the build wrote
/// `<file>.gz` from this file (not older than it), that is sent instead.
fn static_file(
    settings: &Settings,
    file: &StaticFile,
    if_none_match: Option<&str>,
    accepts_gzip: bool,
) -> Result<Response, ApiError> {
    if let Some(model) = &file.model {
        check_served(settings, model)?;
    }
    let path = in_models_dir(settings, &file.path);
    let plain = open_file(&path).ok_or_else(|| file.missing(&path))?;
    // Never a .gz older than its file: it was written from an older build.
    let plain_modified = modified_nanos(&plain.1);
    let gzip = accepts_gzip
        .then(|| open_file(&format!("{path}.gz")))
        .flatten()
        .filter(|(_, gz)| match (modified_nanos(gz), plain_modified) {
            (Some(gz), Some(plain)) => gz >= plain,
            _ => false,
        });
    let (coding, (opened, metadata)) = match gzip {
        Some(gz) => (api::Coding::Gzip, gz),
        None => (api::Coding::Identity, plain),
    };
    let etag = api::etag(
        metadata.len(),
        modified_nanos(&metadata).unwrap_or(0),
        coding,
    );
    let current = if_none_match.is_some_and(|tags| api::etag_matches(tags, &etag));
    let response = file_headers(
        Response::new(if current { 304 } else { 200 }),
        file.content_type,
    )
    .header("cache-control", file.cache_control)
    .header("etag", etag)
    // Whether the answer is gzip depends on accept-encoding.
    .header("vary", "accept-encoding");
    let response = match coding {
        api::Coding::Gzip => response.header("content-encoding", "gzip"),
        api::Coding::Identity => response,
    };
    if current {
        return Ok(response);
    }
    let mut response = response.header("content-length", metadata.len().to_string());
    response.file = Some(opened);
    Ok(response)
}

/// A regular file opened, with the length and time of that file, so an
/// ETag is that of the bytes sent even if a build replaces the file
/// meanwhile.
fn open_file(path: &str) -> Option<(File, std::fs::Metadata)> {
    File::open(path)
        .and_then(|f| f.metadata().map(|m| (f, m)))
        .ok()
        .filter(|(_, m)| m.is_file())
}

/// A file's modification time in nanoseconds since the Unix epoch, when the
/// file system says.
fn modified_nanos(metadata: &std::fs::Metadata) -> Option<u64> {
    let modified = metadata.modified().ok()?;
    let since_epoch = modified.duration_since(UNIX_EPOCH).ok()?;
    Some(since_epoch.as_nanos() as u64)
}

/// Headers of a file pages may load from any origin: readable with CORS,
/// loadable by a cross-origin isolated page (CORP; COEP for the worker
/// scripts such a page starts), and of the type it is said to be, never
/// sniffed.
fn file_headers(response: Response, content_type: &str) -> Response {
    cors(response)
        .header("content-type", content_type)
        .header("cross-origin-resource-policy", "cross-origin")
        .header("cross-origin-embedder-policy", "require-corp")
        .header("x-content-type-options", "nosniff")
}

/// Headers every answer carries so pages on other origins can call the API.
fn cors(response: Response) -> Response {
    response
        .header("access-control-allow-origin", "*")
        .header("access-control-expose-headers", "server-timing")
}

fn json_response(status: u16, body: Vec<u8>, server_timing: &str) -> Response {
    let response = cors(Response::new(status))
        .header("content-type", "application/json")
        .header("cache-control", "no-store");
    let response = if server_timing.is_empty() {
        response
    } else {
        response.header("server-timing", server_timing)
    };
    response.body(body)
}

fn error_response(error: &ApiError) -> Response {
    let response = cors(Response::new(error.status))
        .header("content-type", "application/json")
        .header("cache-control", "no-store");
    let response = match error.allow {
        Some(allow) => response.header("allow", format!("{allow}, OPTIONS")),
        None => response,
    };
    response.body(error.to_json())
}

fn preflight() -> Response {
    cors(Response::new(204))
        .header("access-control-allow-methods", "GET, POST, OPTIONS")
        .header("access-control-allow-headers", "content-type")
        .header("access-control-max-age", "86400")
}
