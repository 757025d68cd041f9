//! Inference through wasi-nn. Each model an instance uses is read once (its
//! manifest and labels) and its graph and execution context are made once
//! and kept: with instance reuse, later requests go straight to `compute`.
//! The host keeps named models loaded across instances (`load-by-name`);
//! when it has none under a model's name, the weights are read from the
//! model's folder.

use crate::bindings::wasi::nn::errors::{Error as NnError, ErrorCode};
use crate::bindings::wasi::nn::graph::{self, ExecutionTarget, Graph, GraphEncoding};
use crate::bindings::wasi::nn::inference::GraphExecutionContext;
use crate::bindings::wasi::nn::tensor::{Tensor, TensorType};
use crate::model::{Model, MANIFEST};
use crate::preprocess::InputTensor;
use crate::settings::Settings;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Instant;

/// A loaded graph, ready to compute.
pub struct Session {
    // Declared before `graph` so it is dropped first.
    context: GraphExecutionContext,
    _graph: Graph,
    /// `load-by-name` or the file the graph was read from.
    pub source: String,
    pub load_ms: f64,
    /// Whether a compute has succeeded: until one has, a failure is the
    /// manifest's input not fitting the graph, more likely than the engine.
    computed: Cell<bool>,
}

/// Why a model gave no outputs.
pub enum RunError {
    /// The engine failed, or its answer could not be used.
    Engine(String),
    /// The engine did not answer in time (wasi-nn's `timeout`).
    Timeout(String),
    /// The model cannot be used: its graph could not be loaded, or does
    /// not take or give what the model's manifest says, or the engine
    /// cannot have the memory the run takes (the portable build's
    /// provider, under a host's memory limit).
    Unusable(String),
}

/// A model this instance has used, and its graph once it has run.
struct Loaded {
    model: Rc<Model>,
    session: Option<Session>,
}

thread_local! {
    static MODELS: RefCell<Vec<Loaded>> = const { RefCell::new(Vec::new()) };
}

/// Model `name`, read from its folder the first time this instance uses it.
pub fn model(settings: &Settings, name: &str) -> Result<Rc<Model>, String> {
    MODELS.with(|cell| {
        if let Some(loaded) = cell.borrow().iter().find(|l| l.model.name == name) {
            return Ok(loaded.model.clone());
        }
        let model = Rc::new(
            Model::read(&settings.models_dir, name)
                .map_err(|e| format!("model '{name}' cannot be used: {e}"))?,
        );
        cell.borrow_mut().push(Loaded {
            model: model.clone(),
            session: None,
        });
        Ok(model)
    })
}

/// Whether this instance has read model `name` already.
pub fn has_read(name: &str) -> bool {
    MODELS.with(|cell| cell.borrow().iter().any(|l| l.model.name == name))
}

/// Runs `f` with `model`'s session, loading its graph first if needed.
/// Returns whether this call loaded it.
pub fn with_session<R>(
    model: &Model,
    f: impl FnOnce(&Session) -> R,
) -> Result<(R, bool), RunError> {
    MODELS.with(|cell| {
        let mut models = cell.borrow_mut();
        let unloaded = || RunError::Unusable(format!("model '{}' was not read", model.name));
        let loaded = models
            .iter_mut()
            .find(|l| l.model.name == model.name)
            .ok_or_else(unloaded)?;
        let loaded_now = loaded.session.is_none();
        if loaded_now {
            loaded.session = Some(Session::load(model)?);
        }
        let session = loaded.session.as_ref().ok_or_else(unloaded)?;
        Ok((f(session), loaded_now))
    })
}

fn describe(e: &NnError) -> String {
    format!("{:?}: {}", e.code(), e.data())
}

impl Session {
    fn load(model: &Model) -> Result<Session, RunError> {
        let start = Instant::now();
        let name = &model.name;
        // An engine that failed or was too slow, whatever the call, is a 502
        // or 504 to the client, not a model it cannot use: wasi-nn's
        // `unknown` is how the provider over a v2 server says the server
        // could not be reached or answered an error.
        let unloaded = |e: NnError| {
            let message = format!("model '{name}' could not be loaded: {}", describe(&e));
            match e.code() {
                ErrorCode::Unknown => RunError::Engine(message),
                ErrorCode::Timeout => RunError::Timeout(message),
                _ => RunError::Unusable(message),
            }
        };
        let (graph, source) = match graph::load_by_name(name) {
            Ok(graph) => (graph, "load-by-name".to_string()),
            // Only an engine without that name is handed the weights: one
            // that has the model but not the memory to load it could not
            // take them either, nor one that cannot be reached.
            Err(by_name) if by_name.code() != ErrorCode::NotFound => return Err(unloaded(by_name)),
            Err(by_name) => load_from_files(&model.dir).map_err(|files| {
                RunError::Unusable(format!(
                    "model '{name}' could not be loaded: the host has no graph of that name ({}) and {files}",
                    describe(&by_name)
                ))
            })?,
        };
        let context = graph.init_execution_context().map_err(unloaded)?;
        Ok(Session {
            context,
            _graph: graph,
            source,
            load_ms: start.elapsed().as_secs_f64() * 1e3,
            computed: Cell::new(false),
        })
    }

    /// Runs the model on an input tensor (the manifest's shape and type)
    /// and returns the outputs its decoder reads, in its order, adding the
    /// time of each part to `steps`: `copy-in` (the tensor into the host),
    /// `inference` (the engine's `compute`), `copy-out` (the outputs back
    /// into the component).
    pub fn run(
        &self,
        model: &Model,
        input: &InputTensor,
        steps: &mut Vec<(&'static str, f64)>,
    ) -> Result<Outputs, RunError> {
        let mut step = |name, start: Instant| {
            steps.push((name, start.elapsed().as_secs_f64() * 1e3));
            Instant::now()
        };
        let manifest = &model.manifest;
        let shape = manifest.preprocess.shape();
        let start = Instant::now();
        let tensor = match input {
            InputTensor::F32(values) => Tensor::new(&shape, TensorType::Fp32, le_bytes(values)),
            InputTensor::U8(values) => Tensor::new(&shape, TensorType::U8, values),
        };
        let start = step("copy-in", start);
        let outputs = self
            .context
            .compute(vec![(manifest.input.clone(), tensor)])
            .map_err(|e| {
                let input = format!(
                    "input.name '{}' and input.shape {shape:?} in {}/{MANIFEST}",
                    manifest.input, model.dir
                );
                let failed = || format!("compute failed: {} ({input})", describe(&e));
                match e.code() {
                    ErrorCode::TooLarge => RunError::Unusable(format!(
                        "model '{}' cannot run in this instance: {}",
                        model.name,
                        e.data()
                    )),
                    // As for loading.
                    ErrorCode::Timeout => RunError::Timeout(failed()),
                    code if code == ErrorCode::Unknown || self.computed.get() => {
                        RunError::Engine(failed())
                    }
                    _ => RunError::Unusable(format!(
                        "model '{}' cannot be used: its first compute failed ({}); check {input} against the graph's input",
                        model.name,
                        describe(&e)
                    )),
                }
            })?;
        self.computed.set(true);
        let start = step("inference", start);

        let shapes: Vec<(String, Vec<u32>)> = outputs
            .iter()
            .map(|(name, t)| (name.clone(), t.dimensions()))
            .collect();
        let views: Vec<(&str, &[u32])> = shapes
            .iter()
            .map(|(n, d)| (n.as_str(), d.as_slice()))
            .collect();
        let picked = manifest.decoder.pick_outputs(&views).map_err(|e| {
            RunError::Unusable(format!(
                "model '{}' cannot be used: {}/{MANIFEST}: {}: {}",
                model.name, model.dir, e.field, e.message
            ))
        })?;
        let bytes = picked
            .into_iter()
            .map(|i| {
                let (name, t) = &outputs[i];
                let data = t.data();
                // Read in place as f32s (see `le_bytes`): the allocator
                // aligns every block to 8 bytes, so only a length that is
                // not whole f32s fails.
                if t.ty() != TensorType::Fp32 || bytemuck::try_cast_slice::<u8, f32>(&data).is_err()
                {
                    return Err(RunError::Engine(format!(
                        "output '{name}' is not float32 ({:?}, {} bytes)",
                        t.ty(),
                        data.len()
                    )));
                }
                Ok(data)
            })
            .collect::<Result<Vec<Vec<u8>>, RunError>>()?;
        step("copy-out", start);
        Ok(Outputs(bytes))
    }
}

/// The outputs a decoder reads, as the host wrote them: little-endian f32s,
/// read in place rather than copied to new memory (1 ms of a fresh
/// instance's request, most of it page faults).
pub struct Outputs(Vec<Vec<u8>>);

impl Outputs {
    /// Each output's values (checked in [`Session::run`]).
    pub fn floats(&self) -> Vec<&[f32]> {
        self.0
            .iter()
            .map(|b| bytemuck::try_cast_slice(b).unwrap_or_default())
            .collect()
    }
}

/// Loads the weights from a model's folder: `model.onnx`, or OpenVINO IR
/// (`model.xml` + `model.bin`).
fn load_from_files(dir: &str) -> Result<(Graph, String), String> {
    let read = |name: &str| {
        let path = format!("{dir}/{name}");
        std::fs::read(&path).map(|bytes| (bytes, path))
    };
    let (parts, encoding, path) = match read("model.onnx") {
        Ok((onnx, path)) => (vec![onnx], GraphEncoding::Onnx, path),
        Err(onnx_err) => match (read("model.xml"), read("model.bin")) {
            (Ok((xml, path)), Ok((bin, _))) => (vec![xml, bin], GraphEncoding::Openvino, path),
            _ => return Err(format!("{dir}/model.onnx could not be read ({onnx_err})")),
        },
    };
    let graph = graph::load(&parts, encoding, ExecutionTarget::Cpu).map_err(|e| {
        format!(
            "{path} was read but the host could not load it ({})",
            describe(&e)
        )
    })?;
    Ok((graph, path))
}

/// wasi-nn tensors are little-endian bytes, which is how wasm keeps f32s in
/// memory: the 2 MB input is handed over as it is, not converted value by
/// value (that took 5 ms a request).
fn le_bytes(values: &[f32]) -> &[u8] {
    const _: () = assert!(cfg!(target_endian = "little"));
    bytemuck::cast_slice(values)
}
