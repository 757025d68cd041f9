//! One HTTP exchange with the v2 server over `wasi:http/outgoing-handler`,
//! bounded in time and size: a server that is down, slow or answers garbage
//! gives a [`Failure`], never a trap or a hang.
//!
//! wasi:http's rules, which a naive client breaks: the request is handed to
//! `handle` before its body is written (a host may not send anything until
//! then, and a body larger than its buffer would wait forever); the body is
//! written through `check-write`/`write` as the stream has room
//! (`blocking-write-and-flush` takes at most 4096 bytes and traps past
//! them); `content-length` is exact; and each child resource (pollable,
//! stream) is dropped before its parent, which a host checks.

use crate::settings::{Scheme, Settings};
use wasip2::clocks::monotonic_clock;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, RequestOptions,
};
use wasip2::io::poll::{poll, Pollable};
use wasip2::io::streams::StreamError;

/// Why an exchange gave no answer.
pub enum Failure {
    /// No connection: refused, no such host, reset before an answer.
    Unreachable(String),
    /// Past the deadline (the `timeout` setting).
    Timeout(String),
    /// The host does not let the component reach the server (Spin:
    /// `allowed_outbound_hosts`).
    Denied(String),
    /// An answer that cannot be used: cut off, too large, not HTTP.
    Broken(String),
}

/// A whole answer.
pub struct Answer {
    pub status: u16,
    /// `Inference-Header-Content-Length`, when the server sent it.
    pub header_length: Option<usize>,
    pub body: Vec<u8>,
}

/// The exchange's deadline, as a pollable that is ready once it passes.
struct Deadline(Pollable);

impl Deadline {
    fn new(timeout_ms: u64) -> Deadline {
        let when = monotonic_clock::now().saturating_add(timeout_ms.saturating_mul(1_000_000));
        Deadline(monotonic_clock::subscribe_instant(when))
    }

    /// Waits until `ready` is, or fails at the deadline.
    fn wait(&self, ready: &Pollable, what: &str) -> Result<(), Failure> {
        if poll(&[ready, &self.0]).contains(&0) {
            return Ok(());
        }
        Err(Failure::Timeout(format!("no {what} by then")))
    }
}

/// Sends `method` to `path` (under the server's URL) with a body of
/// `parts` one after the other, and reads the whole answer, at most
/// `max_answer` bytes. The parts are freed once written, before the answer
/// is read: the answer then takes the memory they held (an input tensor's
/// 2 MB), not pages a fresh instance has never touched, each a fault.
pub fn exchange(
    settings: &Settings,
    method: Method,
    path: &str,
    headers: &[(&str, String)],
    parts: Vec<Vec<u8>>,
    max_answer: usize,
) -> Result<Answer, Failure> {
    let deadline = Deadline::new(settings.timeout_ms);
    let length: usize = parts.iter().map(|p| p.len()).sum();
    let mut fields: Vec<(String, Vec<u8>)> = headers
        .iter()
        .map(|(name, value)| (name.to_string(), value.as_bytes().to_vec()))
        .collect();
    if matches!(method, Method::Post) {
        fields.push(("content-length".into(), length.to_string().into_bytes()));
    }
    if let Some(token) = &settings.token {
        fields.push((
            "authorization".into(),
            format!("Bearer {token}").into_bytes(),
        ));
    }
    let fields = Fields::from_list(&fields)
        .map_err(|e| Failure::Broken(format!("a request header was refused: {e:?}")))?;
    let request = OutgoingRequest::new(fields);
    let scheme = match settings.scheme {
        Scheme::Http => wasip2::http::types::Scheme::Http,
        Scheme::Https => wasip2::http::types::Scheme::Https,
    };
    let target = format!("{}{path}", settings.prefix);
    let refused = |what: &str| Failure::Broken(format!("the host refused the request's {what}"));
    request
        .set_method(&method)
        .map_err(|()| refused("method"))?;
    request
        .set_scheme(Some(&scheme))
        .map_err(|()| refused("scheme"))?;
    request
        .set_authority(Some(&settings.authority))
        .map_err(|()| refused("host"))?;
    request
        .set_path_with_query(Some(&target))
        .map_err(|()| refused("path"))?;
    let body = request.body().map_err(|()| refused("body"))?;

    // Each bound, where the host takes it; the deadline covers them all.
    let options = RequestOptions::new();
    let timeout_ns = Some(settings.timeout_ms.saturating_mul(1_000_000));
    let _ = options.set_connect_timeout(timeout_ns);
    let _ = options.set_first_byte_timeout(timeout_ns);
    let _ = options.set_between_bytes_timeout(timeout_ns);

    let future = outgoing_handler::handle(request, Some(options)).map_err(failure)?;
    // A body that cannot be written (the connection refused or reset) is
    // reported by the answer's future, with the host's reason.
    let written = write_body(&body, &parts, &deadline);
    drop(parts);
    if written.is_ok() {
        OutgoingBody::finish(body, None).map_err(failure)?;
    } else {
        drop(body);
    }
    let response = loop {
        if let Some(result) = future.get() {
            break result;
        }
        let ready = future.subscribe();
        deadline.wait(&ready, "answer")?;
    };
    drop(future);
    let response = response
        .map_err(|()| Failure::Broken("the answer was taken twice".into()))?
        .map_err(failure)?;
    if let Err(e) = written {
        // An answer before the whole request was sent: the server's error
        // is more use than the write's.
        if response.status() < 400 {
            return Err(e);
        }
    }

    let status = response.status();
    let response_headers = response.headers();
    let number = |name: &str| -> Result<Option<usize>, Failure> {
        match response_headers.get(name).first() {
            None => Ok(None),
            Some(value) => std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .map(Some)
                .ok_or_else(|| Failure::Broken(format!("its {name} header is not a number"))),
        }
    };
    let content_length = number("content-length")?;
    let header_length = number(crate::protocol::HEADER_LENGTH)?;
    drop(response_headers);
    if let Some(n) = content_length.filter(|&n| n > max_answer) {
        return Err(Failure::Broken(format!(
            "its answer is {n} bytes, more than the {max_answer} this model's outputs can take"
        )));
    }
    let incoming = response
        .consume()
        .map_err(|()| Failure::Broken("the answer's body was taken twice".into()))?;
    let body = read_body(&incoming, content_length, max_answer, &deadline);
    drop(incoming);
    drop(response);
    Ok(Answer {
        status,
        header_length,
        body: body?,
    })
}

fn write_body(body: &OutgoingBody, parts: &[Vec<u8>], deadline: &Deadline) -> Result<(), Failure> {
    let stream = body
        .write()
        .map_err(|()| Failure::Broken("the request's body was taken twice".into()))?;
    let closed = |e: StreamError| match e {
        StreamError::LastOperationFailed(e) => Failure::Unreachable(format!(
            "the request could not be sent: {}",
            e.to_debug_string()
        )),
        StreamError::Closed => Failure::Unreachable("the connection closed".into()),
    };
    for part in parts {
        let mut rest = part.as_slice();
        while !rest.is_empty() {
            let room = stream.check_write().map_err(closed)?;
            if room == 0 {
                deadline.wait(&stream.subscribe(), "room to send the request")?;
                continue;
            }
            let n = rest.len().min(usize::try_from(room).unwrap_or(usize::MAX));
            stream.write(&rest[..n]).map_err(closed)?;
            rest = &rest[n..];
        }
    }
    // `check-write` answers 0 until the flush is done. A stream closed now
    // has taken every byte: a host closes it once `content-length` bytes
    // are in (a connection that failed is reported by the answer's future).
    loop {
        match stream.flush().and_then(|()| stream.check_write()) {
            Ok(0) => deadline.wait(&stream.subscribe(), "room to send the request")?,
            Ok(_) | Err(StreamError::Closed) => return Ok(()),
            Err(e) => return Err(closed(e)),
        }
    }
}

fn read_body(
    incoming: &IncomingBody,
    content_length: Option<usize>,
    max_answer: usize,
    deadline: &Deadline,
) -> Result<Vec<u8>, Failure> {
    let stream = incoming
        .stream()
        .map_err(|()| Failure::Broken("the answer's body was taken twice".into()))?;
    // Reserved fallibly: under a host's memory cap, an answer that does not
    // fit is an error, not an aborted instance.
    let no_memory = |n: usize| {
        Failure::Broken(format!(
            "its answer ({n} bytes) does not fit in this instance's memory"
        ))
    };
    let mut body = Vec::new();
    if let Some(n) = content_length {
        body.try_reserve_exact(n).map_err(|_| no_memory(n))?;
    }
    loop {
        match stream.read(1 << 20) {
            Ok(chunk) if chunk.is_empty() => deadline.wait(&stream.subscribe(), "whole answer")?,
            Ok(chunk) => {
                let n = body.len() + chunk.len();
                if n > max_answer {
                    return Err(Failure::Broken(format!(
                        "its answer is more than the {max_answer} bytes this model's outputs can take"
                    )));
                }
                body.try_reserve(chunk.len()).map_err(|_| no_memory(n))?;
                body.extend_from_slice(&chunk);
            }
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => {
                return Err(Failure::Broken(format!(
                    "its answer was cut off after {} bytes: {}",
                    body.len(),
                    e.to_debug_string()
                )))
            }
        }
    }
    if let Some(n) = content_length.filter(|&n| n != body.len()) {
        return Err(Failure::Broken(format!(
            "its answer was cut off: {} of {n} bytes",
            body.len()
        )));
    }
    Ok(body)
}

/// A wasi:http error as a [`Failure`].
fn failure(e: ErrorCode) -> Failure {
    let text = format!("{e:?}");
    match e {
        ErrorCode::DnsTimeout
        | ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::ConnectionWriteTimeout
        | ErrorCode::HttpResponseTimeout => Failure::Timeout(text),
        ErrorCode::DnsError(_)
        | ErrorCode::DestinationNotFound
        | ErrorCode::DestinationUnavailable
        | ErrorCode::DestinationIpProhibited
        | ErrorCode::DestinationIpUnroutable
        | ErrorCode::ConnectionRefused
        | ErrorCode::ConnectionTerminated
        | ErrorCode::ConnectionLimitReached
        | ErrorCode::TlsProtocolError
        | ErrorCode::TlsCertificateError
        | ErrorCode::TlsAlertReceived(_) => Failure::Unreachable(text),
        ErrorCode::HttpRequestDenied => Failure::Denied(text),
        _ => Failure::Broken(text),
    }
}
