//! `wasi-detect-host v2`: the host's ONNX Runtime behind the Open Inference
//! Protocol (KServe v2) over REST, with the binary tensor data extension:
//! a v2 server in the same binary, for the build over a v2 server
//! (`provider-kserve/`) where a KServe or Triton deployment is more than is
//! wanted, and for `make bench` to tell the provider's cost from a Python
//! server's.
//!
//!     wasi-detect-host v2 --addr 127.0.0.1:8000 --model nanodet=models/nanodet
//!
//! Each model runs on the vendored backend's session pool, as under
//! `serve`: adaptive by default (`--onnx-sessions`, `--onnx-threads`).
//! Routes: `GET /v2/health/live`, `/v2/health/ready`, `/v2/models/{name}`
//! (metadata), `/v2/models/{name}/ready`, `POST /v2/models/{name}/infer`.
//! Inputs come in binary (`binary_data_size`) or as JSON numbers; outputs
//! go back in binary when asked (`binary_data_output`, or an output's
//! `binary_data`), else as JSON numbers.

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_nn::backend::{BackendExecutionContext, BackendInner, NamedTensor};
use wasmtime_wasi_nn::wit::types::{ExecutionTarget, TensorType};
use wasmtime_wasi_nn::{Graph, Tensor};

/// The largest request body taken: a few tensors of the size these models
/// take (NanoDet's is 2 MB).
const MAX_REQUEST: usize = 64 << 20;

#[derive(clap::Args, Debug)]
pub struct V2Args {
    /// Socket address to serve on.
    #[arg(long, value_name = "SOCKADDR", default_value = "127.0.0.1:8000")]
    addr: SocketAddr,
    /// A model to serve: its v2 name and a folder with a `model.onnx`
    /// (`nanodet=models/nanodet`); repeat for more.
    #[arg(long = "model", value_name = "NAME=DIR", required = true)]
    models: Vec<String>,
    /// As `serve --onnx-sessions`.
    #[arg(long, value_name = "N")]
    onnx_sessions: Option<usize>,
    /// As `serve --onnx-threads`.
    #[arg(long, value_name = "N")]
    onnx_threads: Option<usize>,
}

/// An input or output as the model's metadata gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Declared {
    pub name: String,
    pub ty: TensorType,
    /// -1: any size.
    pub shape: Vec<i64>,
}

struct Model {
    graph: Graph,
    inputs: Vec<Declared>,
    outputs: Vec<Declared>,
}

impl V2Args {
    pub fn execute(self) -> wasmtime::Result<()> {
        use wasmtime_wasi_nn::backend::onnx::OnnxBackend;
        crate::configure_onnx(self.onnx_sessions, self.onnx_threads);
        let mut models = HashMap::new();
        for spec in &self.models {
            let (name, dir) = spec
                .split_once('=')
                .ok_or_else(|| wasmtime::format_err!("--model {spec}: give NAME=DIR"))?;
            let path = PathBuf::from(dir).join("model.onnx");
            let bytes = std::fs::read(&path)
                .map_err(|e| wasmtime::format_err!("{}: {e}", path.display()))?;
            let graph = OnnxBackend::default()
                .load(&[&bytes], ExecutionTarget::Cpu)
                .map_err(|e| wasmtime::format_err!("{}: {e}", path.display()))?;
            let (inputs, outputs) =
                describe(&bytes).map_err(|e| wasmtime::format_err!("{}: {e}", path.display()))?;
            models.insert(
                name.to_string(),
                Model {
                    graph,
                    inputs,
                    outputs,
                },
            );
        }
        let models = Arc::new(models);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind(self.addr).await?;
            let mut names: Vec<&String> = models.keys().collect();
            names.sort();
            eprintln!(
                "v2 server on http://{} ({})",
                self.addr,
                names.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", ")
            );
            loop {
                let (stream, _) = listener.accept().await?;
                let models = models.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let models = models.clone();
                        async move { Ok::<_, std::convert::Infallible>(answer(&models, request).await) }
                    });
                    let io = TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        })
    }
}

/// A model's inputs and outputs, read by ONNX Runtime from its file (a
/// session made for that alone, then dropped: the pool's are busy
/// serving).
fn describe(onnx: &[u8]) -> Result<(Vec<Declared>, Vec<Declared>), String> {
    use ort::value::ValueType;
    let session = ort::session::Session::builder()
        .and_then(|b| b.commit_from_memory(onnx))
        .map_err(|e| e.to_string())?;
    let declared = |name: &str, ty: &ValueType| match ty {
        ValueType::Tensor { ty, shape, .. } => Ok(Declared {
            name: name.to_string(),
            ty: TensorType::try_from(*ty).map_err(|e| format!("{name}: {e}"))?,
            shape: shape.iter().copied().collect(),
        }),
        other => Err(format!("{name} is not a tensor but {other:?}")),
    };
    let inputs = session
        .inputs
        .iter()
        .map(|i| declared(&i.name, &i.input_type))
        .collect::<Result<_, _>>()?;
    let outputs = session
        .outputs
        .iter()
        .map(|o| declared(&o.name, &o.output_type))
        .collect::<Result<_, _>>()?;
    Ok((inputs, outputs))
}

type Answer = Response<Full<Bytes>>;

fn json_answer(status: StatusCode, value: Value) -> Answer {
    let mut response = Response::new(Full::new(Bytes::from(value.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    response
}

/// v2's error answer.
fn error(status: StatusCode, message: impl Into<String>) -> Answer {
    json_answer(status, json!({ "error": message.into() }))
}

async fn answer(models: &HashMap<String, Model>, request: Request<Incoming>) -> Answer {
    let path = request.uri().path().to_string();
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (request.method(), parts.as_slice()) {
        (&Method::GET, ["v2"]) => json_answer(
            StatusCode::OK,
            json!({ "name": "wasi-detect-host", "version": env!("CARGO_PKG_VERSION"),
                    "extensions": ["binary_tensor_data"] }),
        ),
        (&Method::GET, ["v2", "health", "live" | "ready"]) => {
            json_answer(StatusCode::OK, json!({}))
        }
        (method, ["v2", "models", name, rest @ ..]) => {
            let Some(model) = models.get(*name) else {
                return error(
                    StatusCode::NOT_FOUND,
                    format!("Model with name {name} does not exist."),
                );
            };
            match (method, rest) {
                (&Method::GET, []) => json_answer(StatusCode::OK, metadata(name, model)),
                (&Method::GET, ["ready"]) => {
                    json_answer(StatusCode::OK, json!({ "name": name, "ready": true }))
                }
                (&Method::POST, ["infer"]) => infer(name, model, request).await,
                _ => error(StatusCode::NOT_FOUND, format!("no route {method} {path}")),
            }
        }
        (method, _) => error(StatusCode::NOT_FOUND, format!("no route {method} {path}")),
    }
}

fn metadata(name: &str, model: &Model) -> Value {
    let list = |declared: &[Declared]| -> Vec<Value> {
        declared
            .iter()
            .map(|d| json!({ "name": d.name, "datatype": datatype(d.ty), "shape": d.shape }))
            .collect()
    };
    json!({ "name": name, "versions": [], "platform": "onnxruntime_onnx",
            "inputs": list(&model.inputs), "outputs": list(&model.outputs) })
}

async fn infer(name: &str, model: &Model, request: Request<Incoming>) -> Answer {
    let header_length = match request.headers().get(HEADER_LENGTH) {
        None => None,
        Some(v) => match v.to_str().ok().and_then(|v| v.parse().ok()) {
            Some(n) => Some(n),
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("{HEADER_LENGTH} is not a number"),
                )
            }
        },
    };
    let body = match Limited::new(request.into_body(), MAX_REQUEST)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(e) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the request could not be read: {e} (at most {MAX_REQUEST} bytes)"),
            )
        }
    };
    let infer = match parse_infer(header_length, &body, &model.inputs) {
        Ok(infer) => infer,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    drop(body);
    let graph = model.graph.clone();
    let inputs = infer.inputs;
    let outputs = tokio::task::spawn_blocking(move || {
        let mut context = graph.init_execution_context().map_err(|e| e.to_string())?;
        // The backend's named-tensor compute (the context's own `compute`
        // is WITX's, with inputs set one by one).
        BackendExecutionContext::compute(&mut *context, Some(inputs))
            .map_err(|e| format!("{e:?}"))
            .map(Option::unwrap_or_default)
    })
    .await;
    let outputs = match outputs {
        Ok(Ok(outputs)) => outputs,
        Ok(Err(e)) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("inference failed: {e}"),
            )
        }
        Err(e) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("inference failed: {e}"),
            )
        }
    };
    let (body, header_length) = encode_answer(name, &infer.id, &outputs, &infer.outputs);
    let mut response = Response::new(Full::new(Bytes::from(body)));
    let headers = response.headers_mut();
    match header_length {
        Some(n) => {
            headers.insert("content-type", "application/octet-stream".parse().unwrap());
            headers.insert(HEADER_LENGTH, n.into());
        }
        None => {
            headers.insert("content-type", "application/json".parse().unwrap());
        }
    }
    response
}

/// The HTTP header that says how long a JSON header is, binary tensors
/// after it.
pub const HEADER_LENGTH: &str = "inference-header-content-length";

/// Which outputs to answer, and how.
#[derive(Debug, Default, PartialEq)]
pub struct OutputChoice {
    /// Binary unless an output says otherwise.
    pub binary: bool,
    /// The outputs asked for, each binary or not (none: every output).
    pub asked: Vec<(String, Option<bool>)>,
}

pub struct Infer {
    pub id: Option<String>,
    pub inputs: Vec<NamedTensor>,
    pub outputs: OutputChoice,
}

pub fn datatype(ty: TensorType) -> &'static str {
    match ty {
        TensorType::Fp16 => "FP16",
        TensorType::Fp32 => "FP32",
        TensorType::Fp64 => "FP64",
        TensorType::Bf16 => "BF16",
        TensorType::U8 => "UINT8",
        TensorType::I32 => "INT32",
        TensorType::I64 => "INT64",
    }
}

fn element_size(ty: TensorType) -> usize {
    match ty {
        TensorType::U8 => 1,
        TensorType::Fp16 | TensorType::Bf16 => 2,
        TensorType::Fp32 | TensorType::I32 => 4,
        TensorType::Fp64 | TensorType::I64 => 8,
    }
}

/// Reads an infer request against the model's inputs: each declared input
/// once, with its datatype, a shape that fits, and as many bytes as that
/// shape takes.
pub fn parse_infer(
    header_length: Option<usize>,
    body: &[u8],
    declared: &[Declared],
) -> Result<Infer, String> {
    let json_end = header_length.unwrap_or(body.len());
    let header: Value = serde_json::from_slice(
        body.get(..json_end)
            .ok_or("the body is shorter than its inference-header-content-length")?,
    )
    .map_err(|e| format!("the request's JSON: {e}"))?;
    let mut at = json_end;
    let mut inputs = Vec::new();
    for input in header["inputs"]
        .as_array()
        .ok_or("the request has no inputs")?
    {
        let name = input["name"].as_str().ok_or("an input has no name")?;
        let spec = declared
            .iter()
            .find(|d| d.name == name)
            .ok_or_else(|| format!("the model has no input '{name}'"))?;
        if input["datatype"].as_str() != Some(datatype(spec.ty)) {
            return Err(format!(
                "input '{name}' is {}, not {}",
                datatype(spec.ty),
                input["datatype"]
            ));
        }
        let shape: Vec<u32> = input["shape"]
            .as_array()
            .ok_or_else(|| format!("input '{name}' has no shape"))?
            .iter()
            .map(|d| d.as_u64().and_then(|d| u32::try_from(d).ok()))
            .collect::<Option<_>>()
            .ok_or_else(|| format!("input '{name}' has a shape that is not sizes"))?;
        let fits = spec.shape.len() == shape.len()
            && spec
                .shape
                .iter()
                .zip(&shape)
                .all(|(&d, &s)| d < 0 || d == i64::from(s));
        if !fits {
            return Err(format!(
                "input '{name}' has shape {:?}, not {shape:?}",
                spec.shape
            ));
        }
        let size = shape
            .iter()
            .try_fold(element_size(spec.ty), |n, &d| n.checked_mul(d as usize))
            .ok_or_else(|| format!("input '{name}' is too large"))?;
        let data = match input["parameters"]["binary_data_size"].as_u64() {
            Some(n) => {
                let n = n as usize;
                if n != size {
                    return Err(format!(
                        "input '{name}' has {n} bytes, its shape takes {size}"
                    ));
                }
                let bytes = body
                    .get(at..at + n)
                    .ok_or_else(|| format!("the body ends before input '{name}' does"))?;
                at += n;
                bytes.to_vec()
            }
            None => json_data(name, spec.ty, &input["data"], size)?,
        };
        inputs.push(NamedTensor {
            name: name.to_string(),
            tensor: Tensor {
                dimensions: shape,
                ty: spec.ty,
                data,
            },
        });
    }
    if at != body.len() {
        return Err(format!(
            "the body has {} bytes after its inputs",
            body.len() - at
        ));
    }
    for spec in declared {
        if inputs.iter().filter(|i| i.name == spec.name).count() != 1 {
            return Err(format!("the model takes input '{}' once", spec.name));
        }
    }
    let asked = match header["outputs"].as_array() {
        None => Vec::new(),
        Some(list) => list
            .iter()
            .map(|o| {
                let name = o["name"]
                    .as_str()
                    .ok_or("an output asked for has no name")?;
                Ok((name.to_string(), o["parameters"]["binary_data"].as_bool()))
            })
            .collect::<Result<_, &str>>()?,
    };
    Ok(Infer {
        id: header["id"].as_str().map(String::from),
        inputs,
        outputs: OutputChoice {
            binary: header["parameters"]["binary_data_output"].as_bool() == Some(true),
            asked,
        },
    })
}

/// An input's JSON numbers as little-endian bytes (FP32 and the integers).
fn json_data(name: &str, ty: TensorType, data: &Value, size: usize) -> Result<Vec<u8>, String> {
    let values = data
        .as_array()
        .ok_or_else(|| format!("input '{name}' has neither binary_data_size nor data"))?;
    if values.len() * element_size(ty) != size {
        return Err(format!(
            "input '{name}' has {} values, not as many as its shape",
            values.len()
        ));
    }
    let wrong = || format!("input '{name}' has a value that is not {}", datatype(ty));
    let mut bytes = Vec::with_capacity(size);
    for v in values {
        match ty {
            TensorType::Fp32 => bytes.extend((v.as_f64().ok_or_else(wrong)? as f32).to_le_bytes()),
            TensorType::Fp64 => bytes.extend(v.as_f64().ok_or_else(wrong)?.to_le_bytes()),
            TensorType::I64 => bytes.extend(v.as_i64().ok_or_else(wrong)?.to_le_bytes()),
            TensorType::I32 => bytes.extend(
                i32::try_from(v.as_i64().ok_or_else(wrong)?)
                    .map_err(|_| wrong())?
                    .to_le_bytes(),
            ),
            TensorType::U8 => {
                bytes.push(u8::try_from(v.as_u64().ok_or_else(wrong)?).map_err(|_| wrong())?)
            }
            TensorType::Fp16 | TensorType::Bf16 => {
                return Err(format!(
                    "input '{name}' is {} in JSON: send it in binary",
                    datatype(ty)
                ))
            }
        }
    }
    Ok(bytes)
}

/// The infer answer: a JSON header, then each binary output's bytes; the
/// header's length when there are binary outputs.
pub fn encode_answer(
    model: &str,
    id: &Option<String>,
    outputs: &[NamedTensor],
    choice: &OutputChoice,
) -> (Vec<u8>, Option<usize>) {
    let mut listed = Vec::new();
    let mut binary_parts: Vec<&[u8]> = Vec::new();
    for output in outputs {
        let binary = if choice.asked.is_empty() {
            choice.binary
        } else {
            match choice.asked.iter().find(|(n, _)| *n == output.name) {
                Some((_, binary)) => binary.unwrap_or(choice.binary),
                None => continue,
            }
        };
        let t = &output.tensor;
        let mut entry =
            json!({ "name": output.name, "datatype": datatype(t.ty), "shape": t.dimensions });
        if binary {
            entry["parameters"] = json!({ "binary_data_size": t.data.len() });
            binary_parts.push(&t.data);
        } else {
            entry["data"] = numbers(t);
        }
        listed.push(entry);
    }
    let mut header = json!({ "model_name": model, "outputs": listed });
    if let Some(id) = id {
        header["id"] = json!(id);
    }
    let mut body = header.to_string().into_bytes();
    let header_length = (!binary_parts.is_empty()).then_some(body.len());
    for part in binary_parts {
        body.extend_from_slice(part);
    }
    (body, header_length)
}

/// A tensor's values as JSON numbers.
fn numbers(t: &Tensor) -> Value {
    let chunks = t.data.chunks_exact(element_size(t.ty));
    let values: Vec<Value> = match t.ty {
        TensorType::Fp32 => chunks
            .map(|c| json!(f32::from_le_bytes(c.try_into().unwrap())))
            .collect(),
        TensorType::Fp64 => chunks
            .map(|c| json!(f64::from_le_bytes(c.try_into().unwrap())))
            .collect(),
        TensorType::I64 => chunks
            .map(|c| json!(i64::from_le_bytes(c.try_into().unwrap())))
            .collect(),
        TensorType::I32 => chunks
            .map(|c| json!(i32::from_le_bytes(c.try_into().unwrap())))
            .collect(),
        TensorType::U8 => t.data.iter().map(|&b| json!(b)).collect(),
        TensorType::Fp16 | TensorType::Bf16 => Vec::new(),
    };
    Value::Array(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nanodet() -> Vec<Declared> {
        vec![Declared {
            name: "input".into(),
            ty: TensorType::Fp32,
            shape: vec![1, 3, -1, -1],
        }]
    }

    fn request(header: Value, binary: &[u8]) -> (Option<usize>, Vec<u8>) {
        let mut body = header.to_string().into_bytes();
        let length = body.len();
        body.extend_from_slice(binary);
        (Some(length), body)
    }

    #[test]
    fn binary_and_json_inputs_are_read_against_the_model() {
        let data: Vec<u8> = (0..12u8).collect();
        let (length, body) = request(
            json!({"id": "7", "inputs": [{"name": "input", "shape": [1, 3, 1, 1], "datatype": "FP32",
                   "parameters": {"binary_data_size": 12}}],
                   "parameters": {"binary_data_output": true}}),
            &data,
        );
        let infer = parse_infer(length, &body, &nanodet()).unwrap();
        assert_eq!(infer.id.as_deref(), Some("7"));
        assert_eq!(infer.inputs[0].tensor.data, data);
        assert_eq!(infer.inputs[0].tensor.dimensions, [1, 3, 1, 1]);
        assert!(infer.outputs.binary && infer.outputs.asked.is_empty());

        let body = json!({"inputs": [{"name": "input", "shape": [1, 3, 1, 1], "datatype": "FP32",
                           "data": [0.5, 1, 2]}],
                          "outputs": [{"name": "scores", "parameters": {"binary_data": true}}]})
        .to_string();
        let infer = parse_infer(None, body.as_bytes(), &nanodet()).unwrap();
        let floats: Vec<u8> = [0.5f32, 1.0, 2.0]
            .iter()
            .flat_map(|f| f.to_le_bytes())
            .collect();
        assert_eq!(infer.inputs[0].tensor.data, floats);
        assert_eq!(infer.outputs.asked, [("scores".to_string(), Some(true))]);
    }

    #[test]
    fn requests_that_do_not_fit_say_why() {
        let input = |shape: Value, datatype: &str, size: usize| {
            request(
                json!({"inputs": [{"name": "input", "shape": shape, "datatype": datatype,
                       "parameters": {"binary_data_size": size}}]}),
                &vec![0; size],
            )
        };
        let error = |(length, body): (Option<usize>, Vec<u8>)| {
            parse_infer(length, &body, &nanodet()).err().unwrap()
        };
        assert!(error(input(json!([1, 1, 1, 1]), "FP32", 4)).contains("shape [1, 3, -1, -1]"));
        assert!(error(input(json!([1, 3, 1, 1]), "UINT8", 3)).contains("is FP32"));
        assert!(error(input(json!([1, 3, 1, 1]), "FP32", 8)).contains("its shape takes 12"));
        let (length, mut body) = input(json!([1, 3, 1, 1]), "FP32", 12);
        body.push(0);
        assert!(parse_infer(length, &body, &nanodet())
            .err()
            .unwrap()
            .contains("1 bytes after"));
        body.truncate(body.len() - 2);
        assert!(parse_infer(length, &body, &nanodet())
            .err()
            .unwrap()
            .contains("ends before"));
        assert!(parse_infer(None, b"{}", &nanodet())
            .err()
            .unwrap()
            .contains("no inputs"));
        let other =
            br#"{"inputs": [{"name": "image", "shape": [1], "datatype": "FP32", "data": [1]}]}"#;
        assert!(parse_infer(None, other, &nanodet())
            .err()
            .unwrap()
            .contains("no input 'image'"));
    }

    #[test]
    fn answers_are_binary_where_asked() {
        let outputs = vec![
            NamedTensor {
                name: "a".into(),
                tensor: Tensor {
                    dimensions: vec![2],
                    ty: TensorType::Fp32,
                    data: [1.5f32, -2.0]
                        .iter()
                        .flat_map(|f| f.to_le_bytes())
                        .collect(),
                },
            },
            NamedTensor {
                name: "b".into(),
                tensor: Tensor {
                    dimensions: vec![1],
                    ty: TensorType::I64,
                    data: 9i64.to_le_bytes().to_vec(),
                },
            },
        ];
        let all_binary = OutputChoice {
            binary: true,
            asked: vec![],
        };
        let (body, length) = encode_answer("m", &None, &outputs, &all_binary);
        let length = length.unwrap();
        let header: Value = serde_json::from_slice(&body[..length]).unwrap();
        assert_eq!(header["outputs"][1]["parameters"]["binary_data_size"], 8);
        assert_eq!(body.len(), length + 16);
        // Only `b`, as JSON numbers: no binary part, no header length.
        let b_as_json = OutputChoice {
            binary: false,
            asked: vec![("b".into(), None)],
        };
        let (body, length) = encode_answer("m", &Some("x".into()), &outputs, &b_as_json);
        assert_eq!(length, None);
        let answer: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(answer["id"], "x");
        assert_eq!(
            answer["outputs"],
            json!([{"name": "b", "datatype": "INT64", "shape": [1], "data": [9]}])
        );
    }
}
