//! The wasi-nn resources, exported, over [`crate::engine`].
//!
//! `load-by-name(name)` reads `<models dir>/<name>/model.onnx` (the models
//! dir is `WASI_DETECT_MODELS_DIR`, default `/models`, as for the detector)
//! and keeps the optimised model for the life of the instance, so a second
//! graph of the same name costs nothing; `load` takes the ONNX bytes. A
//! model pre-initialised at build time ([`crate::bake`]) is there from the
//! start.
//!
//! Beside wasi-nn, the provider exports Wizer's init function and two
//! functions for tests and benchmarks, called on the provider alone
//! (`wasi-detect-host run --invoke`): the plan's matrix kernels and a
//! profile per op.

use crate::engine::{EngineError, Input, Model, Session};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

wit_bindgen::generate!({
    path: "../wit",
    world: "wasi-detect:detector/provider",
    generate_all,
});

use exports::wasi::nn::errors::{self, ErrorCode};
use exports::wasi::nn::graph::{self, ExecutionTarget, GraphBuilder, GraphEncoding};
use exports::wasi::nn::inference::{self, NamedTensor};
use exports::wasi::nn::tensor::{self, TensorData, TensorDimensions, TensorType};

struct Provider;
export!(Provider);

thread_local! {
    /// Models loaded by name in this instance.
    static BY_NAME: RefCell<HashMap<String, Rc<Model>>> = RefCell::new(HashMap::new());
}

/// An error resource with its code and a message.
fn error(code: ErrorCode, message: impl Into<String>) -> errors::Error {
    errors::Error::new(NnError {
        code,
        message: message.into(),
    })
}

impl From<EngineError> for errors::Error {
    fn from(e: EngineError) -> Self {
        let code = match e {
            EngineError::InvalidEncoding(_) => ErrorCode::InvalidEncoding,
            EngineError::InvalidArgument(_) => ErrorCode::InvalidArgument,
            EngineError::Runtime(_) => ErrorCode::RuntimeError,
            EngineError::TooLarge(_) => ErrorCode::TooLarge,
        };
        error(code, e.to_string())
    }
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

pub struct NnGraph {
    model: Rc<Model>,
}

impl graph::Guest for Provider {
    type Graph = NnGraph;

    fn load(
        builder: Vec<GraphBuilder>,
        encoding: GraphEncoding,
        target: ExecutionTarget,
    ) -> Result<graph::Graph, errors::Error> {
        if !matches!(encoding, GraphEncoding::Onnx | GraphEncoding::Autodetect) {
            return Err(error(
                ErrorCode::InvalidEncoding,
                format!("{encoding:?} models are not supported: this provider runs ONNX"),
            ));
        }
        if target != ExecutionTarget::Cpu {
            return Err(error(
                ErrorCode::UnsupportedOperation,
                format!("execution target {target:?}: this provider runs on the CPU only"),
            ));
        }
        let [onnx] = builder.as_slice() else {
            return Err(error(
                ErrorCode::InvalidArgument,
                format!("an ONNX model is one builder, not {}", builder.len()),
            ));
        };
        crate::engine::reserve(
            onnx.len() as u64 * crate::engine::LOAD_MEMORY_FACTOR,
            "loading this model",
        )?;
        let model = Rc::new(Model::from_onnx(onnx)?);
        Ok(graph::Graph::new(NnGraph { model }))
    }

    fn load_by_name(name: String) -> Result<graph::Graph, errors::Error> {
        let model = model_named(name).map_err(|(code, message)| error(code, message))?;
        Ok(graph::Graph::new(NnGraph { model }))
    }
}

/// The model of that name: loaded already in this instance (or built in),
/// or read from `<models dir>/<name>/model.onnx` and kept.
fn model_named(name: String) -> Result<Rc<Model>, (ErrorCode, String)> {
    if let Some(model) = BY_NAME.with(|m| m.borrow().get(&name).cloned()) {
        return Ok(model);
    }
    let plain = !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\']);
    if !plain {
        return Err((
            ErrorCode::InvalidArgument,
            format!("'{name}' is not a model name"),
        ));
    }
    let dir = std::env::var("WASI_DETECT_MODELS_DIR").unwrap_or_else(|_| "/models".into());
    let path = format!("{}/{name}/model.onnx", dir.trim_end_matches('/'));
    let not_found = |e: std::io::Error| {
        (
            ErrorCode::NotFound,
            format!("no model named '{name}': {path}: {e}"),
        )
    };
    let file = std::fs::File::open(&path).map_err(not_found)?;
    let size = file.metadata().map_err(not_found)?.len();
    // What tract makes of the file, reserved before it is read (the file
    // itself is read as it is decoded, never whole).
    crate::engine::reserve(
        size * crate::engine::LOAD_MEMORY_FACTOR,
        &format!("loading model '{name}'"),
    )
    .map_err(|e| (ErrorCode::TooLarge, e.to_string()))?;
    let too_large = |_| (ErrorCode::TooLarge, format!("'{name}' is {size} bytes"));
    let model = Model::from_onnx_reader(file, usize::try_from(size).map_err(too_large)?)
        .map_err(|e| (ErrorCode::InvalidEncoding, e.to_string()))?;
    let model = Rc::new(model);
    BY_NAME.with(|m| m.borrow_mut().insert(name, model.clone()));
    Ok(model)
}

impl Guest for Provider {
    fn wizer_initialize() {
        // The models to build in, named at build time (comma-separated);
        // none: code only.
        let Ok(names) = std::env::var("WASI_NN_TRACT_BAKE") else {
            return;
        };
        for name in names.split(',').filter(|n| !n.is_empty()) {
            if let Err((_, message)) = crate::bake::baking(|| model_named(name.to_string())) {
                // A trap: Wizer fails, and so does the build.
                panic!("the model to build in, '{name}', cannot be loaded: {message}");
            }
        }
    }

    fn matmul_kernels(name: String) -> Result<Vec<String>, String> {
        let model = model_named(name).map_err(|(_, message)| message)?;
        Ok(model.matmul_kernels())
    }

    fn profile(name: String, runs: u32) -> Result<String, String> {
        let model = model_named(name).map_err(|(_, message)| message)?;
        let input = model.zero_input().map_err(|e| e.to_string())?;
        let mut session = model.session().map_err(|e| e.to_string())?;
        let profile = session
            .profile(&input, runs as usize)
            .map_err(|e| e.to_string())?;
        Ok(profile.to_string())
    }
}

impl graph::GuestGraph for NnGraph {
    fn init_execution_context(&self) -> Result<inference::GraphExecutionContext, errors::Error> {
        let session = self.model.session()?;
        Ok(inference::GraphExecutionContext::new(NnContext {
            session: RefCell::new(session),
        }))
    }
}

pub struct NnContext {
    session: RefCell<Session>,
}

impl inference::Guest for Provider {
    type GraphExecutionContext = NnContext;
}

impl inference::GuestGraphExecutionContext for NnContext {
    fn compute(&self, inputs: Vec<NamedTensor>) -> Result<Vec<NamedTensor>, errors::Error> {
        let mut named = Vec::with_capacity(inputs.len());
        for (name, t) in inputs {
            let t: &NnTensor = t.get();
            if t.ty != TensorType::Fp32 && t.ty != TensorType::U8 {
                return Err(error(
                    ErrorCode::InvalidArgument,
                    format!(
                        "input '{name}' is {:?}; this provider takes FP32 or U8",
                        t.ty
                    ),
                ));
            }
            let uint8 = t.ty == TensorType::U8;
            named.push((
                name,
                Input::from_le_bytes(t.dimensions.clone(), uint8, &t.data)?,
            ));
        }
        let outputs = self.session.borrow_mut().run(named)?;
        Ok(outputs
            .into_iter()
            .map(|(name, t)| {
                let data = t.to_le_bytes();
                let tensor = tensor::Tensor::new(NnTensor {
                    dimensions: t.dimensions,
                    ty: TensorType::Fp32,
                    data,
                });
                (name, tensor)
            })
            .collect())
    }
}
