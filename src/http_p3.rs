//! The handler exported as WASIp3's `wasi:http/handler` 0.3 (spin-sdk 7's
//! `wasip3` bindings): the build for Spin 4 and `wasmtime serve` 46+, which
//! reuse an instance for many requests and may send it several at once.

use crate::component::{self, Request, Response};
use futures::stream;
use spin_sdk_p3::wasip3;
use spin_sdk_p3::wit_bindgen;
use wasip3::http::types::{
    ErrorCode, Fields, Method, Request as WasiRequest, Response as WasiResponse,
};
use wasip3::wit_bindgen::{FutureReader, StreamReader, StreamResult};
use wasip3::{wit_future, wit_stream};

struct Handler;

wasip3::http::service::export!(Handler);

impl wasip3::exports::http::handler::Guest for Handler {
    async fn handle(request: WasiRequest) -> Result<WasiResponse, ErrorCode> {
        let one_at_a_time = Backpressure::on();
        let method = method_name(request.get_method());
        let path_with_query = request.get_path_with_query().unwrap_or_else(|| "/".into());
        let headers = request.get_headers().copy_all();
        // Dropped unwritten, it tells the host the request was handled.
        let (_, handled) = wit_future::new(|| Ok(()));
        let (contents, trailers) = WasiRequest::consume_body(request, handled);
        let request = Request {
            method,
            path_with_query,
            headers,
            body: Box::pin(body_chunks(contents, trailers)),
        };
        let response = component::answer(request).await;
        // The answer's body goes on being written (a model file, for private
        // mode) while the instance takes its next request.
        drop(one_at_a_time);
        Ok(send(response))
    }
}

/// While a request is in an instance, the host sends no other request to
/// that instance: the engine and the decoders take a whole core and never
/// yield, so a second request there would wait for the first one's
/// inference instead of running in another instance. Set from the request's
/// first moment: the host checks it when the request first waits (for its
/// body), before any request could be queued behind the computation.
struct Backpressure;

impl Backpressure {
    fn on() -> Backpressure {
        wit_bindgen::backpressure_inc();
        Backpressure
    }
}

impl Drop for Backpressure {
    fn drop(&mut self) {
        wit_bindgen::backpressure_dec();
    }
}

/// A request body's chunks as they arrive, then the host's verdict on it:
/// an error when it ended early (shorter than its content-length, or the
/// client went away).
fn body_chunks(
    contents: StreamReader<u8>,
    trailers: FutureReader<Result<Option<Fields>, ErrorCode>>,
) -> impl futures::Stream<Item = Result<Vec<u8>, String>> {
    const CHUNK: usize = 64 * 1024;
    let start = (Some(contents), Some(trailers));
    stream::unfold(start, |(contents, trailers)| async move {
        if let Some(mut contents) = contents {
            let (result, chunk) = contents.read(Vec::with_capacity(CHUNK)).await;
            if let StreamResult::Complete(_) = result {
                return Some((Ok(chunk), (Some(contents), trailers)));
            }
        }
        match trailers?.await {
            Ok(_) => None,
            Err(e) => Some((Err(body_error(e)), (None, None))),
        }
    })
}

/// Why the host says a body ended early, in words.
fn body_error(error: ErrorCode) -> String {
    match error {
        ErrorCode::HttpProtocolError => "the connection ended before the whole body".into(),
        ErrorCode::HttpRequestBodySize(Some(n)) => {
            format!("{n} bytes arrived, not what content-length says")
        }
        other => format!("{other:?}"),
    }
}

/// The answer as a wasi:http 0.3 response, its body written by a task of
/// its own once the handler has returned.
fn send(response: Response) -> WasiResponse {
    // Every name and value here is the component's own, valid ASCII.
    let headers = Fields::from_list(&response.fields()).unwrap_or_else(|_| Fields::new());
    let (mut contents, reader) = wit_stream::new();
    let (trailers, trailers_reader) = wit_future::new(|| Ok(None));
    let (outgoing, _) = WasiResponse::new(headers, Some(reader), trailers_reader);
    // A status the component picked, always in 100..=599.
    let _ = outgoing.set_status_code(response.status);
    wit_bindgen::spawn(async move {
        let write = async |chunk: Vec<u8>| match contents.write_all(chunk).await {
            rest if rest.is_empty() => Ok(()),
            _ => Err("the client went away".to_string()),
        };
        if let Err(e) = response.write_body(write).await {
            eprintln!("the answer could not be sent: {e}");
            // Breaks the answer off: the client cannot take it for whole.
            let _ = trailers.write(Err(ErrorCode::InternalError(Some(e)))).await;
        }
    });
    outgoing
}

fn method_name(method: Method) -> String {
    match method {
        Method::Get => "GET",
        Method::Head => "HEAD",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Delete => "DELETE",
        Method::Connect => "CONNECT",
        Method::Options => "OPTIONS",
        Method::Trace => "TRACE",
        Method::Patch => "PATCH",
        Method::Other(other) => return other,
    }
    .to_string()
}
