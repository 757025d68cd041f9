//! Implements a `wasi-nn` [`BackendInner`] using ONNX via the `ort` crate.

use super::{
    BackendError, BackendExecutionContext, BackendFromDir, BackendGraph, BackendInner, NamedTensor,
};
use crate::backend::{Id, Running, read};
use crate::wit::types::{ExecutionTarget, GraphEncoding, Tensor, TensorType};
use crate::{ExecutionContext, Graph};
use ort::{
    execution_providers::{CPUExecutionProvider, ExecutionProviderDispatch},
    session::{Input, Output, SessionOutputs},
    session::{Session, SessionInputValue, builder::GraphOptimizationLevel},
    tensor::{PrimitiveTensorElementType, TensorElementType},
    value::{Tensor as OrtTensor, TensorRef, ValueType},
};

#[cfg(feature = "onnx-cuda")]
use ort::execution_providers::CUDAExecutionProvider;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

#[derive(Default)]
pub struct OnnxBackend();
unsafe impl Send for OnnxBackend {}
unsafe impl Sync for OnnxBackend {}

impl BackendInner for OnnxBackend {
    fn encoding(&self) -> GraphEncoding {
        GraphEncoding::Onnx
    }

    fn load(&mut self, builders: &[&[u8]], target: ExecutionTarget) -> Result<Graph, BackendError> {
        if builders.len() != 1 {
            return Err(BackendError::InvalidNumberOfBuilders(1, builders.len()));
        }

        let pool = SessionPool::new(builders[0], target)?;
        let box_: Box<dyn BackendGraph> = Box::new(OnnxGraph(Arc::new(pool), target));
        Ok(box_.into())
    }

    fn as_dir_loadable<'a>(&'a mut self) -> Option<&'a mut dyn BackendFromDir> {
        Some(self)
    }
}

/// Configure execution providers based on the target
fn configure_execution_providers(
    target: ExecutionTarget,
) -> Result<Vec<ExecutionProviderDispatch>, BackendError> {
    match target {
        ExecutionTarget::Cpu => {
            // Use CPU execution provider with default configuration
            tracing::debug!("Using CPU execution provider");
            Ok(vec![CPUExecutionProvider::default().build()])
        }
        ExecutionTarget::Gpu => {
            #[cfg(feature = "onnx-cuda")]
            {
                // Use CUDA execution provider for GPU acceleration
                tracing::debug!("Using Nvidia GPU CUDA execution provider");
                Ok(vec![CUDAExecutionProvider::default().build()])
            }
            #[cfg(not(feature = "onnx-cuda"))]
            {
                tracing::warn!("GPU CUDA execution provider is not enabled, falling back to CPU");
                Ok(vec![CPUExecutionProvider::default().build()])
            }
        }
        ExecutionTarget::Tpu => {
            tracing::warn!(
                "TPU execution target is not supported for ONNX backend yet, falling back to CPU"
            );
            Ok(vec![CPUExecutionProvider::default().build()])
        }
    }
}

impl BackendFromDir for OnnxBackend {
    fn load_from_dir(
        &mut self,
        path: &Path,
        target: ExecutionTarget,
    ) -> Result<Graph, BackendError> {
        // `wasmtime serve` preloads its `-S nn-graph` models into every new
        // store: share one pool per file instead of building sessions (tens
        // of milliseconds and megabytes each) for every instance. The lock
        // is held while a pool is built, so a second store waits for the
        // first one's sessions instead of building its own.
        let key = format!("{}|{target:?}", path.display());
        let mut pools = POOLS.lock().unwrap();
        let pool = match pools.iter().find(|(k, _)| *k == key) {
            Some((_, pool)) => pool.clone(),
            None => {
                let model = read(&path.join("model.onnx"))?;
                let pool = Arc::new(SessionPool::new(&model, target)?);
                pools.push((key, pool.clone()));
                pool
            }
        };
        let box_: Box<dyn BackendGraph> = Box::new(OnnxGraph(pool, target));
        Ok(box_.into())
    }
}

/// The session pools of the model files loaded so far, for the process's life.
static POOLS: Mutex<Vec<(String, Arc<SessionPool>)>> = Mutex::new(Vec::new());

/// How sessions are made: [`configure`] sets it once, before any load.
static SETTINGS: OnceLock<PoolSettings> = OnceLock::new();

/// How a model's sessions share the cores.
#[derive(Clone, Copy, Debug, Default)]
pub enum PoolSettings {
    /// The default: a compute that starts while no other runs takes a
    /// session whose threads span every core (a lone request's latency);
    /// one that starts beside others takes a session of one thread, of
    /// which there is one per core (requests side by side, each on a core).
    /// The one-thread sessions are made the first time two computes meet.
    #[default]
    Adaptive,
    /// `sessions` sessions of `threads` intra-op threads each (0: ONNX
    /// Runtime's default, one per physical core), taken in turn.
    Fixed { sessions: usize, threads: usize },
}

/// Sets how sessions are made; returns false if a model was loaded already.
pub fn configure(settings: PoolSettings) -> bool {
    SETTINGS.set(settings).is_ok()
}

/// ONNX Runtime sessions of one model. `ort` runs a session from one caller
/// at a time (`run` takes `&mut`), so inferences that should overlap need
/// sessions of their own; a compute takes a free one, or waits for one.
struct SessionPool {
    /// The sessions a compute takes first: the one wide session when
    /// adaptive, else all of them.
    sessions: Vec<Mutex<Session>>,
    /// Adaptive only: the one-thread sessions, one per core, once made.
    narrow: OnceLock<Vec<Mutex<Session>>>,
    /// Whether the one-thread sessions are being made (in the background).
    making_narrow: AtomicBool,
    /// Adaptive only: the model's bytes, to make the one-thread sessions from.
    model: Option<Vec<u8>>,
    target: ExecutionTarget,
    next: AtomicUsize,
}

/// A session of `model` with `threads` intra-op threads (0: one per
/// physical core, as ONNX Runtime's default), spinning for work between
/// operators only when `spin`.
fn session(
    model: &[u8],
    target: ExecutionTarget,
    threads: usize,
    spin: bool,
) -> Result<Session, BackendError> {
    // Always a number: left to ONNX Runtime, the count is the same but its
    // pool threads are pinned to cores while the thread that calls `run`
    // (a server's, which moves between cores) is not, and when that thread
    // lands on a pinned one's core the two share it. Measured on 2 cores, a
    // lone request's inference took 22-30 ms instead of 10 in about one run
    // in five (p90 28.1 ms against 15.8 with the count given).
    let threads = if threads > 0 { threads } else { num_cpus::get_physical() };
    let mut builder = Session::builder()?
        .with_execution_providers(configure_execution_providers(target)?)?
        .with_optimization_level(GraphOptimizationLevel::Level3)?
        .with_intra_threads(threads)?;
    if spin {
        // Its threads spin for work between a run's operators (without, a
        // lone inference takes 15% longer), but not once the run is over,
        // when they would take cores from another session's inference.
        builder = builder.with_config_entry("session.force_spinning_stop", "1")?;
    } else {
        // A pool thread spinning for work would take a core from another
        // session's inference.
        builder = builder.with_intra_op_spinning(false)?;
    }
    Ok(builder.commit_from_memory(model)?)
}

impl SessionPool {
    fn new(model: &[u8], target: ExecutionTarget) -> Result<Self, BackendError> {
        let settings = *SETTINGS.get_or_init(PoolSettings::default);
        let (count, threads, spin) = match settings {
            // The wide session spins within a run only (see `session`):
            // measured on 2 cores, a lone request's p50 was 1.06x the
            // spinning single session's (17.6 ms), against 1.13x with no
            // spinning, and two connections got as many answers as with none.
            PoolSettings::Adaptive => (1, 0, true),
            PoolSettings::Fixed { sessions, threads } => (sessions.max(1), threads, sessions <= 1),
        };
        let sessions = (0..count)
            .map(|_| Ok(Mutex::new(session(model, target, threads, spin)?)))
            .collect::<Result<_, BackendError>>()?;
        Ok(SessionPool {
            sessions,
            narrow: OnceLock::new(),
            making_narrow: AtomicBool::new(false),
            model: matches!(settings, PoolSettings::Adaptive).then(|| model.to_vec()),
            target,
            next: AtomicUsize::new(0),
        })
    }

    /// Runs an inference, `f`, on a session chosen for what else is running
    /// (see [`PoolSettings`]), counted in [`Running`] while it runs.
    fn with_session<R>(self: &Arc<Self>, f: impl FnOnce(&mut Session) -> R) -> R {
        let (_running, others) = Running::start();
        let sessions = match (self.model.is_some() && others > 0, self.narrow.get()) {
            (true, Some(narrow)) => narrow,
            (true, None) => {
                self.make_narrow();
                &self.sessions
            }
            (false, _) => &self.sessions,
        };
        Self::on_one_of(sessions, &self.next, f)
    }

    /// Runs `f` on a free session of `sessions`, or on the next in turn
    /// once it is free.
    fn on_one_of<R>(
        sessions: &[Mutex<Session>],
        next: &AtomicUsize,
        f: impl FnOnce(&mut Session) -> R,
    ) -> R {
        for session in sessions {
            if let Ok(mut session) = session.try_lock() {
                return f(&mut session);
            }
        }
        let i = next.fetch_add(1, Ordering::Relaxed) % sessions.len();
        f(&mut sessions[i].lock().unwrap())
    }

    /// Starts making the one-thread sessions in the background, once:
    /// meanwhile computes wait for the wide session, as a lone one would.
    fn make_narrow(self: &Arc<Self>) {
        if self.making_narrow.swap(true, Ordering::SeqCst) {
            return;
        }
        let pool = self.clone();
        std::thread::spawn(move || {
            let Some(model) = &pool.model else { return };
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            let made: Result<Vec<_>, BackendError> = (0..cores)
                .map(|_| Ok(Mutex::new(session(model, pool.target, 1, false)?)))
                .collect();
            match made {
                Ok(narrow) => {
                    let _ = pool.narrow.set(narrow);
                }
                // The wide session goes on serving every compute.
                Err(e) => tracing::warn!("the one-thread ONNX Runtime sessions: {e}"),
            }
        });
    }
}

struct OnnxGraph(Arc<SessionPool>, #[allow(dead_code)] ExecutionTarget);
unsafe impl Send for OnnxGraph {}
unsafe impl Sync for OnnxGraph {}

impl BackendGraph for OnnxGraph {
    fn init_execution_context(&self) -> Result<ExecutionContext, BackendError> {
        // Every session of the pool has the same inputs and outputs: read
        // them from a free one rather than wait for a busy one. Not an
        // inference: it is not counted in `Running`.
        let pool = &self.0;
        let (inputs, outputs) = SessionPool::on_one_of(&pool.sessions, &pool.next, |session| {
            // We need to hold on to the names of the inputs in order for
            // `set_input` to work with both indexes and names. Having the
            // dimensions and type around is useful for validation but could be
            // retrieved from the session.
            let mut inputs = vec![];
            for input in &session.inputs {
                let shape = Shape::from_onnx_input(input)?;
                inputs.push(TensorSlot {
                    shape,
                    tensor: None,
                });
            }
            // We need to keep track of the output shapes since they are used for
            // creating the output tensor.
            let mut outputs = vec![];
            for output in &session.outputs {
                let shape = Shape::from_onnx_output(output)?;
                outputs.push(TensorSlot {
                    shape,
                    tensor: None,
                });
            }
            Ok::<_, BackendError>((inputs, outputs))
        })?;
        let box_: Box<dyn BackendExecutionContext> = Box::new(OnnxExecutionContext {
            pool: self.0.clone(),
            inputs,
            outputs,
        });
        Ok(box_.into())
    }
}

struct OnnxExecutionContext {
    pool: Arc<SessionPool>,
    inputs: Vec<TensorSlot>,
    outputs: Vec<TensorSlot>,
}

unsafe impl Send for OnnxExecutionContext {}
unsafe impl Sync for OnnxExecutionContext {}

impl OnnxExecutionContext {
    /// Helper function for finding the internal index of a tensor by [`Id`].
    fn find(&self, id: Id, list: &[TensorSlot]) -> Result<usize, BackendError> {
        let index = match id {
            Id::Index(i) => {
                let i = i as usize;
                if i < list.len() {
                    i
                } else {
                    return Err(BackendError::BackendAccess(wasmtime::format_err!(
                        "incorrect tensor index: {i} >= {}",
                        list.len()
                    )));
                }
            }
            Id::Name(n) => list.iter().position(|s| s.shape.name == n).ok_or_else(|| {
                BackendError::BackendAccess(wasmtime::format_err!("unknown tensor name: {n}"))
            })?,
        };
        Ok(index)
    }

    /// Runs the set inputs on a session of the pool: each output's
    /// dimensions and little-endian bytes.
    fn run(&self) -> Result<Vec<(Vec<u32>, Vec<u8>)>, BackendError> {
        fn dimensions_as_u32(shape: &ort::tensor::Shape) -> Result<Vec<u32>, BackendError> {
            (*shape)
                .iter()
                .map(|d| if *d == -1 { Ok(1) } else { convert_i64(d) })
                .collect()
        }
        let session_inputs = self
            .inputs
            .iter()
            .map(to_input_value)
            .collect::<Result<Vec<_>, _>>()?;
        self.pool.with_session(|session| {
            let session_outputs = session.run(session_inputs.as_slice())?;
            (0..self.outputs.len())
                .map(|i| {
                    let (shape, data) = output_bytes(&session_outputs, i, self.outputs[i].shape.ty)?;
                    Ok((dimensions_as_u32(shape)?, data))
                })
                .collect()
        })
    }
}

impl BackendExecutionContext for OnnxExecutionContext {
    fn set_input(&mut self, id: Id, tensor: &Tensor) -> Result<(), BackendError> {
        let index = self.find(id, &self.inputs)?;
        let input = &mut self.inputs[index];
        if let Err(e) = input.shape.matches(tensor) {
            return Err(e.into());
        }
        // Hold the tensor data on the context until `compute` is called.
        input.tensor.replace(tensor.clone());
        Ok(())
    }

    fn compute(
        &mut self,
        inputs: Option<Vec<NamedTensor>>,
    ) -> Result<Option<Vec<NamedTensor>>, BackendError> {
        match inputs {
            // WIT
            Some(inputs) => {
                for slot in &mut self.inputs {
                    slot.tensor = None;
                }
                // The inputs are moved to their slots, and the outputs handed
                // back without a copy kept (`get_output` is WITX's): each
                // copy of a 2 MB tensor cost a fresh allocation and its
                // page faults in every compute.
                for input in inputs {
                    let index = self
                        .inputs
                        .iter()
                        .position(|slot| slot.shape.name == input.name);
                    let index = match index {
                        Some(idx) => idx,
                        None => {
                            // Try to convert name to index
                            if let Ok(idx) = input.name.parse::<usize>() {
                                if idx < self.inputs.len() {
                                    idx
                                } else {
                                    return Err(BackendError::BackendAccess(
                                        wasmtime::format_err!("Input index out of range: {idx}"),
                                    ));
                                }
                            } else {
                                return Err(BackendError::BackendAccess(wasmtime::format_err!(
                                    "Unknown input tensor name: {}",
                                    input.name
                                )));
                            }
                        }
                    };

                    let input_slot = &mut self.inputs[index];
                    if let Err(e) = input_slot.shape.matches(&input.tensor) {
                        return Err(e.into());
                    }
                    input_slot.tensor.replace(input.tensor);
                }

                let results = self.run()?;
                let output_tensors = self
                    .outputs
                    .iter()
                    .zip(results)
                    .map(|(output, (dimensions, data))| NamedTensor {
                        name: output.shape.name.clone(),
                        tensor: Tensor {
                            dimensions,
                            ty: output.shape.ty,
                            data,
                        },
                    })
                    .collect();
                Ok(Some(output_tensors))
            }

            // WITX
            None => {
                let results = self.run()?;
                for (output, (dimensions, data)) in self.outputs.iter_mut().zip(results) {
                    output.tensor.replace(Tensor {
                        dimensions,
                        ty: output.shape.ty,
                        data,
                    });
                }
                Ok(None)
            }
        }
    }

    fn get_output(&mut self, id: Id) -> Result<Tensor, BackendError> {
        let index = self.find(id, &self.outputs)?;
        let output = &self.outputs[index];
        if let Some(tensor) = &output.tensor {
            Ok(tensor.clone())
        } else {
            Err(BackendError::BackendAccess(wasmtime::format_err!(
                "missing output tensor: {}; has `compute` been called?",
                output.shape.name
            )))
        }
    }
}

impl From<ort::Error> for BackendError {
    fn from(e: ort::Error) -> Self {
        BackendError::BackendAccess(wasmtime::format_err!("{e}"))
    }
}

/// Holds a slot for ONNX session inputs and outputs.
///
/// TODO: it seems unfortunate that we have to "hold" some extra data per
/// session but in the input case, this is necessary for name-based indexing.
struct TensorSlot {
    shape: Shape,
    tensor: Option<Tensor>,
}

/// Describes a tensor in ONNX terms.
struct Shape {
    name: String,
    dimensions: Vec<i64>,
    ty: TensorType,
}

impl Shape {
    fn from_onnx_input(input: &Input) -> Result<Self, BackendError> {
        let name = input.name.clone();
        let (dimensions, ty) = convert_value_type(&input.input_type)?;
        Ok(Self {
            name,
            dimensions,
            ty,
        })
    }

    fn from_onnx_output(output: &Output) -> Result<Self, BackendError> {
        let name = output.name.clone();
        let (dimensions, ty) = convert_value_type(&output.output_type)?;
        Ok(Self {
            name,
            dimensions,
            ty,
        })
    }

    fn matches(&self, tensor: &Tensor) -> wasmtime::Result<()> {
        if self.dimensions.len() != tensor.dimensions.len() {
            return Err(wasmtime::format_err!(
                "input tensor cardinality does not match model: {:?} != {:?}",
                self.dimensions,
                tensor.dimensions
            ));
        } else {
            for (&shape_dim, &tensor_dim) in self.dimensions.iter().zip(tensor.dimensions.iter()) {
                let tensor_dim = tensor_dim as i64;
                if !is_dynamic_dimension(shape_dim) && shape_dim != tensor_dim {
                    return Err(wasmtime::format_err!(
                        "input tensor dimensions do not match model: {:?} != {:?}",
                        self.dimensions,
                        tensor.dimensions
                    ));
                }
            }
        }
        if self.ty != tensor.ty {
            return Err(wasmtime::format_err!(
                "input tensor type does not match model: {:?} != {:?}",
                self.ty,
                tensor.ty
            ));
        }
        Ok(())
    }
}

fn convert_value_type(vt: &ValueType) -> Result<(Vec<i64>, TensorType), BackendError> {
    match vt {
        ValueType::Tensor { ty, shape, .. } => {
            let dimensions = shape.to_vec();
            let ty = (*ty).try_into()?;
            Ok((dimensions, ty))
        }
        _ => Err(BackendError::BackendAccess(wasmtime::format_err!(
            "unsupported input type: {vt:?}"
        ))),
    }
}

fn convert_i64(i: &i64) -> Result<u32, BackendError> {
    u32::try_from(*i).map_err(|d| -> BackendError {
        wasmtime::format_err!("unable to convert dimension to u32: {d}").into()
    })
}

impl TryFrom<TensorElementType> for TensorType {
    type Error = BackendError;
    fn try_from(ty: TensorElementType) -> Result<Self, Self::Error> {
        match ty {
            TensorElementType::Float32 => Ok(TensorType::Fp32),
            TensorElementType::Float64 => Ok(TensorType::Fp64),
            TensorElementType::Uint8 => Ok(TensorType::U8),
            TensorElementType::Int32 => Ok(TensorType::I32),
            TensorElementType::Int64 => Ok(TensorType::I64),
            _ => Err(BackendError::BackendAccess(wasmtime::format_err!(
                "unsupported tensor type: {ty:?}"
            ))),
        }
    }
}

/// The slot's tensor as an ONNX Runtime input, borrowing its bytes where
/// they are aligned for the element type (a 2 MB f32 tensor is not copied)
/// and converting them otherwise. Every element type the backend reads
/// models with is taken: an input of another type is an error, never a
/// panic of the host.
fn to_input_value(slot: &TensorSlot) -> Result<SessionInputValue<'_>, BackendError> {
    let tensor = slot.tensor.as_ref().ok_or_else(|| {
        BackendError::BackendAccess(wasmtime::format_err!(
            "missing input tensor: {}",
            slot.shape.name
        ))
    })?;
    let dimensions: Vec<i64> = tensor.dimensions.iter().map(|d| *d as i64).collect();
    match tensor.ty {
        TensorType::Fp32 => input_value::<f32>(dimensions, &tensor.data),
        TensorType::U8 => input_value::<u8>(dimensions, &tensor.data),
        TensorType::I32 => input_value::<i32>(dimensions, &tensor.data),
        TensorType::I64 => input_value::<i64>(dimensions, &tensor.data),
        TensorType::Fp64 => input_value::<f64>(dimensions, &tensor.data),
        ty => Err(BackendError::BackendAccess(wasmtime::format_err!(
            "{ty:?} input tensors are not supported by the ONNX backend"
        ))),
    }
}

/// wasi-nn's tensor bytes are little-endian: a host's own values are
/// handed over as they lie in memory.
const LITTLE_ENDIAN: () = assert!(cfg!(target_endian = "little"), "a little-endian host");

/// Plain numbers of the element types above: any bit pattern is a value.
trait Element: PrimitiveTensorElementType + Copy + std::fmt::Debug + 'static {
    fn from_le(bytes: &[u8]) -> Self;
}
macro_rules! element {
    ($($t:ty),*) => {$(
        impl Element for $t {
            fn from_le(bytes: &[u8]) -> Self {
                <$t>::from_le_bytes(bytes.try_into().expect("chunks of the element's size"))
            }
        }
    )*};
}
element!(f32, u8, i32, i64, f64);

fn input_value<T: Element>(
    dimensions: Vec<i64>,
    data: &[u8],
) -> Result<SessionInputValue<'_>, BackendError> {
    let size = std::mem::size_of::<T>();
    if data.len() % size != 0 {
        return Err(BackendError::BackendAccess(wasmtime::format_err!(
            "{} bytes are not a whole number of {size}-byte elements",
            data.len()
        )));
    }
    let () = LITTLE_ENDIAN;
    // SAFETY: every bit pattern is a value of `T` (see `Element`); the
    // middle part is aligned for `T` and within `data`.
    let (head, values, tail) = unsafe { data.align_to::<T>() };
    if head.is_empty() && tail.is_empty() {
        return Ok(TensorRef::from_array_view((dimensions, values))?.into());
    }
    let values: Vec<T> = data.chunks_exact(size).map(T::from_le).collect();
    Ok(OrtTensor::from_array((dimensions, values))?.into())
}

/// Output `i`'s shape and little-endian bytes, read as its element type.
fn output_bytes<'s>(
    outputs: &'s SessionOutputs<'_>,
    i: usize,
    ty: TensorType,
) -> Result<(&'s ort::tensor::Shape, Vec<u8>), BackendError> {
    fn bytes<'s, T: Element>(
        outputs: &'s SessionOutputs<'_>,
        i: usize,
    ) -> Result<(&'s ort::tensor::Shape, Vec<u8>), BackendError> {
        let (shape, data) = outputs[i].try_extract_tensor::<T>()?;
        // SAFETY: the values' own memory, read as bytes (one copy); they
        // are little-endian (`LITTLE_ENDIAN`).
        let bytes =
            unsafe { std::slice::from_raw_parts(data.as_ptr().cast::<u8>(), size_of_val(data)) };
        Ok((shape, bytes.to_vec()))
    }
    match ty {
        TensorType::Fp32 => bytes::<f32>(outputs, i),
        TensorType::U8 => bytes::<u8>(outputs, i),
        TensorType::I32 => bytes::<i32>(outputs, i),
        TensorType::I64 => bytes::<i64>(outputs, i),
        TensorType::Fp64 => bytes::<f64>(outputs, i),
        ty => Err(BackendError::BackendAccess(wasmtime::format_err!(
            "{ty:?} output tensors are not supported by the ONNX backend"
        ))),
    }
}

/// Returns whether the dimension is dynamic.
///
/// ONNX uses [dimensional variables] (i.e., name strings) to indicate that the
/// value of a tensor dimension is user-defined, not fixed by the model. This is
/// useful for batching up several inference requests, e.g. When `ort` returns a
/// dimension of this kind, though, it uses `-1` to indicate that the dimension
/// is dynamic.
///
/// [dimensional variables]:
///     https://onnx.ai/onnx/repo-docs/IR.html#static-tensor-shapes
fn is_dynamic_dimension(d: i64) -> bool {
    d == -1
}
