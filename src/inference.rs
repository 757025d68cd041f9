//! Inference through wasi-nn. The graph and its execution context are made
//! once per instance and kept: with instance reuse, later requests go
//! straight to `compute`. The host keeps the named model loaded across
//! instances (`load-by-name`); when it has none under that name, the model is
//! read from the mounted models folder.

use crate::bindings::wasi::nn::errors::Error as NnError;
use crate::bindings::wasi::nn::graph::{self, ExecutionTarget, Graph, GraphEncoding};
use crate::bindings::wasi::nn::inference::GraphExecutionContext;
use crate::bindings::wasi::nn::tensor::{Tensor, TensorType};
use crate::model::{self, INPUT_NAME, INPUT_SHAPE};
use crate::settings::Settings;
use std::cell::RefCell;
use std::time::Instant;

/// A loaded model, ready to compute.
pub struct Session {
    // Declared before `graph` so it is dropped first.
    context: GraphExecutionContext,
    _graph: Graph,
    /// `load-by-name` or the file the graph was read from.
    pub source: String,
    pub load_ms: f64,
}

/// The model's raw outputs.
pub struct Outputs {
    pub scores: Vec<f32>,
    pub box_dist: Vec<f32>,
}

thread_local! {
    static SESSION: RefCell<Option<Session>> = const { RefCell::new(None) };
}

/// Runs `f` with the instance's session, loading it first if needed.
/// Returns whether this call loaded it.
pub fn with_session<R>(
    settings: &Settings,
    f: impl FnOnce(&Session) -> R,
) -> Result<(R, bool), String> {
    SESSION.with(|cell| {
        let mut slot = cell.borrow_mut();
        let loaded_now = slot.is_none();
        if loaded_now {
            *slot = Some(Session::load(settings)?);
        }
        let session = slot.as_ref().ok_or("no session")?;
        Ok((f(session), loaded_now))
    })
}

fn describe(e: &NnError) -> String {
    format!("{:?}: {}", e.code(), e.data())
}

impl Session {
    fn load(settings: &Settings) -> Result<Session, String> {
        let start = Instant::now();
        let (graph, source) = match graph::load_by_name(&settings.model) {
            Ok(graph) => (graph, "load-by-name".to_string()),
            Err(by_name) => load_from_files(settings).map_err(|files| {
                format!(
                    "model '{}' could not be loaded: the host has no graph of that name ({}) and {files}",
                    settings.model,
                    describe(&by_name)
                )
            })?,
        };
        let context = graph.init_execution_context().map_err(|e| {
            format!(
                "model '{}' loaded but has no execution context: {}",
                settings.model,
                describe(&e)
            )
        })?;
        Ok(Session {
            context,
            _graph: graph,
            source,
            load_ms: start.elapsed().as_secs_f64() * 1e3,
        })
    }

    /// Runs the model on an input tensor (`INPUT_SHAPE`, float32), adding
    /// the time of each part to `steps`: `copy-in` (the tensor into the
    /// host), `inference` (the engine's `compute`), `copy-out` (the outputs
    /// back into the component).
    pub fn run(
        &self,
        input: &[f32],
        steps: &mut Vec<(&'static str, f64)>,
    ) -> Result<Outputs, String> {
        let mut step = |name, start: Instant| {
            steps.push((name, start.elapsed().as_secs_f64() * 1e3));
            Instant::now()
        };
        let start = Instant::now();
        let tensor = Tensor::new(&INPUT_SHAPE, TensorType::Fp32, le_bytes(input));
        let start = step("copy-in", start);
        let outputs = self
            .context
            .compute(vec![(INPUT_NAME.to_string(), tensor)])
            .map_err(|e| format!("compute failed: {}", describe(&e)))?;
        let start = step("inference", start);

        let shapes: Vec<(String, Vec<u32>)> = outputs
            .iter()
            .map(|(name, t)| (name.clone(), t.dimensions()))
            .collect();
        let views: Vec<(&str, &[u32])> = shapes
            .iter()
            .map(|(n, d)| (n.as_str(), d.as_slice()))
            .collect();
        let (scores, box_dist) = model::output_roles(&views)?;
        let floats = |i: usize| -> Result<Vec<f32>, String> {
            let t = &outputs[i].1;
            if t.ty() != TensorType::Fp32 {
                return Err(format!(
                    "output '{}' is {:?}, not float32",
                    outputs[i].0,
                    t.ty()
                ));
            }
            // Little-endian bytes to f32s in one copy (see `le_bytes`).
            Ok(bytemuck::pod_collect_to_vec(&t.data()))
        };
        let outputs = Outputs {
            scores: floats(scores)?,
            box_dist: floats(box_dist)?,
        };
        step("copy-out", start);
        Ok(outputs)
    }
}

/// Loads the model from `<models_dir>/<model>/`: `model.onnx`, or OpenVINO IR
/// (`model.xml` + `model.bin`).
fn load_from_files(settings: &Settings) -> Result<(Graph, String), String> {
    let dir = format!(
        "{}/{}",
        settings.models_dir.trim_end_matches('/'),
        settings.model
    );
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
