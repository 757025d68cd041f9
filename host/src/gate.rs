//! The admission gate: the public listener in front of wasmtime's `serve`.
//!
//! wasmtime's own `--max-concurrent-requests` makes extra requests wait on a
//! semaphore with no bound on the wait, so a burst queues forever and every
//! client times out together. The gate instead lets `max_in_flight` requests
//! run, lets `max_queue` more wait, and answers the rest at once with
//! `503 busy` and a `retry-after` estimated from recent service times. A
//! request that cannot be answered within the budget (queued or running) gets
//! `503 timeout`. A request's body is read whole (at most `max_body` bytes,
//! the component's own limit) before it takes a turn, so slow uploads hold
//! no engine time; one that does not arrive within the budget gets `408`.
//! Answers use the component's error shape, `{"code": ..., "message": ...}`,
//! so clients handle one format.
//!
//! Everything else passes through unchanged: the request goes to wasmtime on
//! a loopback port and the answer is streamed back.

use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper::header::{CONNECTION, CONTENT_LENGTH, TE, TRAILER, TRANSFER_ENCODING, UPGRADE};
use hyper::{Request, Response, StatusCode};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime_wasi_http::io::TokioIo;

type GateBody = BoxBody<Bytes, hyper::Error>;

/// The gate's knobs (the `serve` flags `--max-in-flight`, `--max-queue`,
/// `--request-budget`).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Requests the engine works on at once.
    pub max_in_flight: usize,
    /// Requests allowed to wait for a turn; one more is refused with 503.
    pub max_queue: usize,
    /// Longest a request may take from arrival to the answer's head.
    pub budget: Duration,
    /// Largest request body, in bytes: the component's own limit, so a body
    /// over it is refused before it is read.
    pub max_body: usize,
}

struct Gate {
    limits: Limits,
    engine: SocketAddr,
    slots: Arc<Semaphore>,
    /// Requests admitted and not yet answered (waiting or running).
    admitted: AtomicUsize,
    /// Moving average of the engine's time per request, for `retry-after`.
    service: Mutex<Duration>,
}

/// Serves `public` until the process ends, passing admitted requests to the
/// engine (wasmtime serve) listening on `engine`.
pub async fn run(listener: TcpListener, engine: SocketAddr, limits: Limits) -> std::io::Result<()> {
    let gate = Arc::new(Gate {
        slots: Arc::new(Semaphore::new(limits.max_in_flight)),
        admitted: AtomicUsize::new(0),
        service: Mutex::new(Duration::from_millis(100)),
        limits,
        engine,
    });
    loop {
        let (stream, _) = listener.accept().await?;
        // Small JSON answers: don't let Nagle hold them back.
        stream.set_nodelay(true)?;
        let gate = gate.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let gate = gate.clone();
                async move { Ok::<_, std::convert::Infallible>(gate.handle(req).await) }
            });
            // A client that goes away mid-request ends only its connection.
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

impl Gate {
    async fn handle(self: &Arc<Self>, req: Request<Incoming>) -> Response<GateBody> {
        let arrived = Instant::now();
        let limits = &self.limits;
        // Admission: one slot per request that may run or wait.
        let capacity = limits.max_in_flight + limits.max_queue;
        if self
            .admitted
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < capacity).then_some(n + 1)
            })
            .is_err()
        {
            return self.refuse(
                "busy",
                format!(
                    "the server is working on {} requests and has {} waiting; retry later",
                    limits.max_in_flight, limits.max_queue
                ),
            );
        }
        let admitted = Admitted(self.clone());

        // The whole body is read before the request takes a turn: a slow
        // upload then holds only its own connection, never the engine, and
        // the engine always gets a complete body (so an early answer such
        // as 413 never races a half-written upload).
        let (mut parts, body) = req.into_parts();
        let declared = parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limits.max_body as u64) {
            return self.too_large();
        }
        let body = match tokio::time::timeout(limits.budget, read_body(body, limits.max_body)).await
        {
            Ok(Ok(body)) => body,
            Ok(Err(BodyError::TooLarge)) => return self.too_large(),
            Ok(Err(BodyError::Broken(e))) => {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    &format!("the body ended early or could not be read: {e}"),
                )
            }
            Err(_) => {
                return json_error(
                    StatusCode::REQUEST_TIMEOUT,
                    "request_timeout",
                    &format!(
                        "the body did not arrive within the request budget of {} ms",
                        limits.budget.as_millis()
                    ),
                )
            }
        };
        // Sent to the engine with its length, however the client framed it.
        for hop in [TRANSFER_ENCODING, CONNECTION, TE, TRAILER, UPGRADE] {
            parts.headers.remove(hop);
        }
        if !body.is_empty() || declared.is_some() {
            parts.headers.insert(CONTENT_LENGTH, body.len().into());
        }
        let req = Request::from_parts(parts, Full::new(body));

        let remaining = limits.budget.saturating_sub(arrived.elapsed());
        let slot = match tokio::time::timeout(remaining, self.slots.clone().acquire_owned()).await {
            Ok(Ok(slot)) => slot,
            _ => return self.refuse("timeout", self.timeout_message("waiting for a turn")),
        };
        let remaining = limits.budget.saturating_sub(arrived.elapsed());

        // The exchange runs in its own task that owns the slot: if the budget
        // runs out first, the engine is still busy with the request, so the
        // slot stays taken until it is done.
        let gate = self.clone();
        let exchange = tokio::spawn(async move {
            let started = Instant::now();
            let answer = forward(gate.engine, req).await;
            gate.record_service(started.elapsed());
            answer.map(|r| r.map(|body| SlotBody { body, _slot: slot }.boxed()))
        });
        let answer = tokio::time::timeout(remaining, exchange).await;
        drop(admitted);
        match answer {
            Ok(Ok(Ok(response))) => response,
            Ok(Ok(Err(e))) => json_error(
                StatusCode::BAD_GATEWAY,
                "engine_unavailable",
                &format!("the engine did not answer: {e}"),
            ),
            Ok(Err(e)) => json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                &format!("the request failed in the host: {e}"),
            ),
            Err(_) => self.refuse("timeout", self.timeout_message("working on it")),
        }
    }

    /// The component's own answer to an oversized body, given earlier.
    fn too_large(&self) -> Response<GateBody> {
        let max = self.limits.max_body;
        json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            &format!(
                "the body is larger than {max} bytes ({} MB)",
                max.div_ceil(1024 * 1024)
            ),
        )
    }

    fn timeout_message(&self, when: &str) -> String {
        format!(
            "no answer within the request budget of {} ms ({when}); retry later",
            self.limits.budget.as_millis()
        )
    }

    fn record_service(&self, took: Duration) {
        let mut avg = self.service.lock().unwrap_or_else(|e| e.into_inner());
        *avg = (*avg * 7 + took) / 8;
    }

    /// `503` with `retry-after`: about how long the requests already admitted
    /// take to drain, in whole seconds (at least 1).
    fn refuse(&self, code: &str, message: String) -> Response<GateBody> {
        let service = *self.service.lock().unwrap_or_else(|e| e.into_inner());
        let waves = self.admitted.load(Ordering::Acquire) / self.limits.max_in_flight + 1;
        let seconds = (service * waves as u32).as_secs_f64().ceil().max(1.0);
        let mut response = json_error(StatusCode::SERVICE_UNAVAILABLE, code, &message);
        response
            .headers_mut()
            .insert("retry-after", (seconds as u64).into());
        response
    }
}

/// Counts a request as admitted until it is answered (or its client leaves).
struct Admitted(Arc<Gate>);

impl Drop for Admitted {
    fn drop(&mut self) {
        self.0.admitted.fetch_sub(1, Ordering::AcqRel);
    }
}

/// One request to the engine over a fresh loopback connection (wasmtime
/// serve accepts them cheaply; no pool to go stale).
async fn forward(
    engine: SocketAddr,
    req: Request<Full<Bytes>>,
) -> Result<Response<Incoming>, Box<dyn std::error::Error + Send + Sync>> {
    let stream = TcpStream::connect(engine).await?;
    stream.set_nodelay(true)?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender.send_request(req).await?)
}

enum BodyError {
    TooLarge,
    Broken(hyper::Error),
}

/// The request body, up to `max` bytes.
async fn read_body(mut body: Incoming, max: usize) -> Result<Bytes, BodyError> {
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.map_err(BodyError::Broken)?.into_data() {
            if bytes.len() + data.len() > max {
                return Err(BodyError::TooLarge);
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(bytes))
}

/// The engine's answer body, holding the request's slot until it is sent.
struct SlotBody {
    body: Incoming,
    _slot: OwnedSemaphorePermit,
}

impl Body for SlotBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

fn json_error(status: StatusCode, code: &str, message: &str) -> Response<GateBody> {
    let body = serde_json::json!({ "code": code, "message": message }).to_string();
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("access-control-allow-origin", "*")
        .body(Full::new(Bytes::from(body)).map_err(|e| match e {}).boxed())
        .expect("static headers are valid")
}
