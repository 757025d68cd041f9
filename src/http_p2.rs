//! The handler exported as WASIp2's `wasi:http/incoming-handler` (spin-sdk
//! 5): the build for Spin 3 hosts (SpinKube, Fermyon Cloud), the browser and
//! `make run`. A WASIp2 instance takes one request at a time.

use crate::component::{self, Request, Response};
use futures::{SinkExt, StreamExt};
use spin_sdk::http::{Fields, IncomingRequest, OutgoingResponse, ResponseOutparam};
use spin_sdk::http_component;

#[http_component]
async fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
    let method = request.method().to_string();
    let path_with_query = request.path_with_query().unwrap_or_else(|| "/".into());
    let headers = request.headers().entries();
    let body = request.into_body_stream();
    let body = body.map(|chunk| chunk.map_err(|e| e.to_debug_string()));
    let request = Request {
        method,
        path_with_query,
        headers,
        body,
    };
    let response = component::answer(request).await;
    send(response, response_out).await;
}

async fn send(response: Response, response_out: ResponseOutparam) {
    // Every name and value here is the component's own, valid ASCII.
    let headers = Fields::from_list(&response.fields()).unwrap_or_else(|_| Fields::new());
    let outgoing = OutgoingResponse::new(headers);
    // A status the component picked, always in 100..=599.
    let _ = outgoing.set_status_code(response.status);
    let mut body = outgoing.take_body();
    response_out.set(outgoing);
    let sent = response
        .write_body(async |chunk| body.send(chunk).await.map_err(|e| e.to_string()))
        .await;
    if let Err(e) = sent {
        // The client went away; nothing is left to tell it.
        eprintln!("the answer could not be sent: {e}");
    }
}
