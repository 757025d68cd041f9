//! The wasi-nn resources, exported, over a v2 server ([`crate::client`]).
//!
//! `load-by-name(name)` asks the server for the model's metadata
//! (`GET /v2/models/{name}`, the name mapped by the `inference_models`
//! setting) and keeps it for the life of the instance; `compute` checks
//! its inputs against it, sends them in one `POST /v2/models/{name}/infer`
//! with the binary extension, and checks the outputs it gets back. `load`
//! (a model's bytes) is not offered: the server has the models.
//!
//! The error codes say what a client of the detector should hear:
//! `unknown` the server could not be reached, answered an error, or an
//! answer that cannot be read (the detector answers 502, as a gateway
//! does); `timeout` it was too slow (504); `not-found` it has no such
//! model, `invalid-argument` the inputs do not fit it, `security` the host
//! does not let the component reach it (each a 503: the model cannot be
//! used as deployed).

use crate::client::{self, Answer, Failure};
use crate::protocol::{self, DataType, Metadata};
use crate::settings::{self, Settings};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use wasip2::http::types::Method;

wit_bindgen::generate!({
    path: "../wit",
    world: "wasi-detect:detector/kserve-provider",
    generate_all,
});

use exports::wasi::nn::errors::{self, ErrorCode};
use exports::wasi::nn::graph::{self, ExecutionTarget, GraphBuilder, GraphEncoding};
use exports::wasi::nn::inference::{self, NamedTensor};
use exports::wasi::nn::tensor::{self, TensorData, TensorDimensions, TensorType};

struct Provider;
export!(Provider);

/// Answers past this size are refused when the model's metadata does not
/// bound them (an output with a dimension of any size).
const MAX_ANSWER: usize = 64 << 20;

thread_local! {
    /// Models whose metadata this instance has read, by the server's name.
    static MODELS: RefCell<HashMap<String, Rc<Metadata>>> = RefCell::new(HashMap::new());
}

fn error(code: ErrorCode, message: impl Into<String>) -> errors::Error {
    errors::Error::new(NnError {
        code,
        message: message.into(),
    })
}

/// A failed exchange, said with the server's URL.
fn failed(settings: &Settings, failure: Failure) -> errors::Error {
    let url = settings.url();
    match failure {
        Failure::Unreachable(why) => error(
            ErrorCode::Unknown,
            format!("the inference server {url} could not be reached: {why}"),
        ),
        Failure::Timeout(why) => error(
            ErrorCode::Timeout,
            format!(
                "the inference server {url} did not answer within {} s ({why})",
                settings.timeout_ms as f64 / 1000.0
            ),
        ),
        Failure::Denied(why) => error(
            ErrorCode::Security,
            format!("this host does not let the component reach {url} ({why}); allow it (Spin: allowed_outbound_hosts)"),
        ),
        Failure::Broken(why) => error(
            ErrorCode::Unknown,
            format!("the inference server {url} answered, but {why}"),
        ),
    }
}

/// An answer that is not a success, with the server's own message.
fn refused(settings: &Settings, what: &str, answer: &Answer) -> errors::Error {
    let code = match answer.status {
        404 => ErrorCode::NotFound,
        400 | 422 => ErrorCode::InvalidArgument,
        _ => ErrorCode::Unknown,
    };
    error(
        code,
        format!(
            "the inference server {} answered {} to {what}: {}",
            settings.url(),
            answer.status,
            protocol::error_text(&answer.body)
        ),
    )
}

fn settings() -> Result<Settings, errors::Error> {
    Settings::from_vars(std::env::vars()).map_err(|e| error(ErrorCode::InvalidArgument, e))
}

pub struct NnError {
    code: ErrorCode,
    message: String,
}

impl errors::Guest for Provider {
    type Error = NnError;
}

impl errors::GuestError for NnError {
    fn code(&self) -> ErrorCode {
        self.code
    }
    fn data(&self) -> String {
        self.message.clone()
    }
}

pub struct NnTensor {
    dimensions: TensorDimensions,
    ty: TensorType,
    data: TensorData,
}

impl tensor::Guest for Provider {
    type Tensor = NnTensor;
}

impl tensor::GuestTensor for NnTensor {
    fn new(dimensions: TensorDimensions, ty: TensorType, data: TensorData) -> Self {
        NnTensor {
            dimensions,
            ty,
            data,
        }
    }
    fn dimensions(&self) -> TensorDimensions {
        self.dimensions.clone()
    }
    fn ty(&self) -> TensorType {
        self.ty
    }
    fn data(&self) -> TensorData {
        self.data.clone()
    }
}

fn data_type(ty: TensorType) -> DataType {
    match ty {
        TensorType::Fp16 => DataType::Fp16,
        TensorType::Fp32 => DataType::Fp32,
        TensorType::Fp64 => DataType::Fp64,
        TensorType::Bf16 => DataType::Bf16,
        TensorType::U8 => DataType::Uint8,
        TensorType::I32 => DataType::Int32,
        TensorType::I64 => DataType::Int64,
    }
}

fn tensor_type(datatype: DataType) -> TensorType {
    match datatype {
        DataType::Fp16 => TensorType::Fp16,
        DataType::Fp32 => TensorType::Fp32,
        DataType::Fp64 => TensorType::Fp64,
        DataType::Bf16 => TensorType::Bf16,
        DataType::Uint8 => TensorType::U8,
        DataType::Int32 => TensorType::I32,
        DataType::Int64 => TensorType::I64,
    }
}

/// A model on the server.
pub struct NnGraph {
    settings: Settings,
    /// The server's name for it, which its infer requests go to.
    name: String,
    metadata: Rc<Metadata>,
}

impl graph::Guest for Provider {
    type Graph = NnGraph;

    fn load(
        _builder: Vec<GraphBuilder>,
        _encoding: GraphEncoding,
        _target: ExecutionTarget,
    ) -> Result<graph::Graph, errors::Error> {
        Err(error(
            ErrorCode::UnsupportedOperation,
            "this wasi:nn runs models on a v2 inference server, which loads them itself: use load-by-name",
        ))
    }

    fn load_by_name(name: String) -> Result<graph::Graph, errors::Error> {
        let settings = settings()?;
        let server_name = settings.server_name(&name).to_string();
        if !settings::is_plain_name(&server_name) {
            return Err(error(
                ErrorCode::InvalidArgument,
                format!("'{server_name}' is not a v2 model name"),
            ));
        }
        let known = MODELS.with(|m| m.borrow().get(&server_name).cloned());
        let metadata = match known {
            Some(metadata) => metadata,
            None => {
                let metadata = Rc::new(read_metadata(&settings, &server_name)?);
                MODELS.with(|m| m.borrow_mut().insert(server_name.clone(), metadata.clone()));
                metadata
            }
        };
        Ok(graph::Graph::new(NnGraph {
            settings,
            name: server_name,
            metadata,
        }))
    }
}

fn read_metadata(settings: &Settings, name: &str) -> Result<Metadata, errors::Error> {
    let answer = client::exchange(
        settings,
        Method::Get,
        &format!("/v2/models/{name}"),
        &[],
        Vec::new(),
        1 << 20,
    )
    .map_err(|f| failed(settings, f))?;
    if answer.status != 200 {
        return Err(refused(settings, &format!("model '{name}'"), &answer));
    }
    protocol::parse_metadata(&answer.body).map_err(|why| failed(settings, Failure::Broken(why)))
}

impl graph::GuestGraph for NnGraph {
    fn init_execution_context(&self) -> Result<inference::GraphExecutionContext, errors::Error> {
        Ok(inference::GraphExecutionContext::new(NnContext {
            settings: self.settings.clone(),
            name: self.name.clone(),
            metadata: self.metadata.clone(),
        }))
    }
}

pub struct NnContext {
    settings: Settings,
    name: String,
    metadata: Rc<Metadata>,
}

impl inference::Guest for Provider {
    type GraphExecutionContext = NnContext;
}

impl inference::GuestGraphExecutionContext for NnContext {
    fn compute(&self, inputs: Vec<NamedTensor>) -> Result<Vec<NamedTensor>, errors::Error> {
        let (settings, name) = (&self.settings, &self.name);
        let inputs: Vec<protocol::Tensor> = inputs
            .into_iter()
            .map(|(input, t)| {
                let t: NnTensor = t.into_inner();
                protocol::Tensor {
                    name: input,
                    datatype: data_type(t.ty),
                    shape: t.dimensions.into_iter().map(u64::from).collect(),
                    data: t.data,
                }
            })
            .collect();
        for input in &inputs {
            if protocol::byte_size(&input.shape, input.datatype) != Some(input.data.len()) {
                return Err(error(
                    ErrorCode::InvalidArgument,
                    format!(
                        "input '{}' has {} bytes, not as many as its shape",
                        input.name,
                        input.data.len()
                    ),
                ));
            }
        }
        protocol::check_inputs(&self.metadata, &inputs)
            .map_err(|why| error(ErrorCode::InvalidArgument, why))?;
        let header = protocol::infer_header(&inputs);
        let header_length = header.len().to_string();
        let mut parts = vec![header];
        parts.extend(inputs.into_iter().map(|i| i.data));
        let answer = client::exchange(
            settings,
            Method::Post,
            &format!("/v2/models/{name}/infer"),
            &[
                ("content-type", "application/octet-stream".into()),
                (protocol::HEADER_LENGTH, header_length),
            ],
            parts,
            self.metadata.max_answer(MAX_ANSWER),
        )
        .map_err(|f| failed(settings, f))?;
        if answer.status != 200 {
            return Err(refused(
                settings,
                &format!("an inference of '{name}'"),
                &answer,
            ));
        }
        let outputs = protocol::parse_answer(answer.header_length, &answer.body)
            .and_then(|outputs| {
                protocol::check_outputs(&self.metadata, &outputs)?;
                Ok(outputs)
            })
            .map_err(|why| failed(settings, Failure::Broken(why)))?;
        Ok(outputs
            .into_iter()
            .map(|t| {
                let dimensions = t
                    .shape
                    .iter()
                    .map(|&d| u32::try_from(d).unwrap_or(u32::MAX))
                    .collect();
                let tensor = tensor::Tensor::new(NnTensor {
                    dimensions,
                    ty: tensor_type(t.datatype),
                    data: t.data,
                });
                (t.name, tensor)
            })
            .collect())
    }
}
