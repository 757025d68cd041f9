//! ONNX models run by tract: load once (parse, optimise, plan), then run
//! many times with the same state. Tensors cross the wasi-nn boundary as
//! little-endian bytes: inputs of float32, or of uint8 (an image whose
//! normalisation is in the graph); outputs as float32.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::matmul::optimized::OptMatMul;

/// Why a model could not be loaded or run, in wasi-nn's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineError {
    /// The bytes are not a model tract can load.
    InvalidEncoding(String),
    /// The caller passed something the model cannot take.
    InvalidArgument(String),
    /// The model failed while running.
    Runtime(String),
    /// The instance cannot have the memory the model needs (the host caps
    /// it): refused before tract allocates, which it does infallibly.
    TooLarge(String),
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineError::InvalidEncoding(m)
            | EngineError::InvalidArgument(m)
            | EngineError::Runtime(m)
            | EngineError::TooLarge(m) => f.write_str(m),
        }
    }
}

/// While tract parses and optimises an ONNX model it holds up to this many
/// times the model's size (measured with a counting allocator: coco-ssd
/// 2.12x, NanoDet 2.07x, CenterNet 2.34x), 3x with room.
pub const LOAD_MEMORY_FACTOR: u64 = 3;

/// Asks the allocator for `bytes`, fallibly, and frees them: tract
/// allocates infallibly, so where the host caps the instance's memory a
/// load or run that would not fit aborts the instance. Reserved first, the
/// request is refused with [`EngineError::TooLarge`] instead, and what
/// follows takes the memory back from the allocator's free space. The
/// bytes are asked for in pieces of at most [`RESERVE_PIECE`]: what tract
/// allocates is many tensors, none larger, which fit in the free space the
/// plan's load left between its buffers; one piece of the whole would ask
/// the host for new memory instead.
pub fn reserve(bytes: u64, what: &str) -> Result<(), EngineError> {
    #[cfg(target_arch = "wasm32")]
    if crate::bake::is_baking() {
        return Ok(());
    }
    let mut pieces: Vec<Vec<u8>> = Vec::new();
    let mut left = bytes;
    while left > 0 {
        let piece = left.min(RESERVE_PIECE);
        let mut v = Vec::new();
        if pieces.try_reserve(1).is_err() || v.try_reserve_exact(piece as usize).is_err() {
            return Err(EngineError::TooLarge(format!(
                "{what} takes about {} MiB of memory, more than this instance can have \
                 (the host's memory limit)",
                bytes.div_ceil(1 << 20)
            )));
        }
        pieces.push(v);
        left -= piece;
    }
    Ok(())
}

/// The largest piece [`reserve`] asks for: above the largest activation of
/// the models served (CenterNet's 4 MB).
pub const RESERVE_PIECE: u64 = 8 << 20;

/// The most a run of the plan holds at once, in bytes: the plan's nodes
/// in its order, each node's outputs (their shapes are fixed) held
/// from the node's step until the last step that reads them, the
/// model's outputs to the end. What a run allocates besides (kernel
/// scratch) is small against it.
fn run_memory(plan: &TypedRunnableModel) -> u64 {
    let model = plan.model();
    let order = plan.order_without_consts();
    let step_of: std::collections::HashMap<usize, usize> = order
        .iter()
        .enumerate()
        .map(|(step, &node)| (node, step))
        .collect();
    let outputs = model.output_outlets().unwrap_or(&[]);
    let bytes = |node: usize| -> u64 {
        model
            .node(node)
            .outputs
            .iter()
            .map(|o| {
                let count: usize = o.fact.shape.as_concrete().map_or(0, |s| s.iter().product());
                (count * o.fact.datum_type.size_of()) as u64
            })
            .sum()
    };
    // The step after which each node's outputs can go.
    let last_use: Vec<(usize, usize)> = order
        .iter()
        .map(|&node| {
            let kept = outputs.iter().any(|o| o.node == node);
            let last = model
                .node(node)
                .outputs
                .iter()
                .flat_map(|o| o.successors.iter())
                .filter_map(|inlet| step_of.get(&inlet.node).copied())
                .max()
                .unwrap_or(step_of[&node]);
            (node, if kept { usize::MAX } else { last })
        })
        .collect();
    let (mut live, mut peak) = (0u64, 0u64);
    for (step, &node) in order.iter().enumerate() {
        live += bytes(node);
        peak = peak.max(live);
        for &(done, last) in &last_use {
            if last == step {
                live -= bytes(done);
            }
        }
    }
    peak
}

/// A tensor as wasi-nn carries it: dimensions and float32 values.
#[derive(Debug, Clone, PartialEq)]
pub struct F32Tensor {
    pub dimensions: Vec<u32>,
    pub values: Vec<f32>,
}

impl F32Tensor {
    /// From wasi-nn's little-endian bytes, checking they fit the dimensions.
    pub fn from_le_bytes(dimensions: Vec<u32>, bytes: &[u8]) -> Result<Self, EngineError> {
        let count: u64 = dimensions.iter().map(|&d| u64::from(d)).product();
        if bytes.len() as u64 != count * 4 {
            return Err(EngineError::InvalidArgument(format!(
                "a float32 tensor of dimensions {dimensions:?} takes {} bytes, not {}",
                count * 4,
                bytes.len()
            )));
        }
        let values = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        Ok(F32Tensor { dimensions, values })
    }

    /// As a tract tensor of the same shape.
    fn to_tract(&self) -> Result<Tensor, EngineError> {
        let shape: Vec<usize> = self.dimensions.iter().map(|&d| d as usize).collect();
        Tensor::from_shape(&shape, &self.values)
            .map_err(|e| EngineError::InvalidArgument(format!("{e:#}")))
    }

    pub fn to_le_bytes(&self) -> Vec<u8> {
        self.values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }
}

/// A model's input: float32 values, or uint8 ones (a model that takes the
/// image's pixels as they are and normalises them in its graph).
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    F32(F32Tensor),
    U8 {
        dimensions: Vec<u32>,
        values: Vec<u8>,
    },
}

impl From<F32Tensor> for Input {
    fn from(t: F32Tensor) -> Input {
        Input::F32(t)
    }
}

impl Input {
    /// From wasi-nn's bytes, float32 or uint8 (`uint8`), checking they
    /// fit the dimensions.
    pub fn from_le_bytes(
        dimensions: Vec<u32>,
        uint8: bool,
        bytes: &[u8],
    ) -> Result<Self, EngineError> {
        if !uint8 {
            return F32Tensor::from_le_bytes(dimensions, bytes).map(Input::F32);
        }
        let count: u64 = dimensions.iter().map(|&d| u64::from(d)).product();
        if bytes.len() as u64 != count {
            return Err(EngineError::InvalidArgument(format!(
                "a uint8 tensor of dimensions {dimensions:?} takes {count} bytes, not {}",
                bytes.len()
            )));
        }
        Ok(Input::U8 {
            dimensions,
            values: bytes.to_vec(),
        })
    }

    /// Its values' bytes.
    fn byte_len(&self) -> u64 {
        match self {
            Input::F32(t) => t.values.len() as u64 * 4,
            Input::U8 { values, .. } => values.len() as u64,
        }
    }

    /// As a tract tensor of the same shape and type.
    fn to_tract(&self) -> Result<Tensor, EngineError> {
        match self {
            Input::F32(t) => t.to_tract(),
            Input::U8 { dimensions, values } => {
                let shape: Vec<usize> = dimensions.iter().map(|&d| d as usize).collect();
                Tensor::from_shape(&shape, values)
                    .map_err(|e| EngineError::InvalidArgument(format!("{e:#}")))
            }
        }
    }
}

/// A model ready to run: the optimised plan, and the names of its inputs
/// and outputs.
pub struct Model {
    plan: Arc<TypedRunnableModel>,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    /// The most a run holds at once, in bytes ([`run_memory`]).
    run_memory: u64,
}

/// The ONNX protobuf, decoded from `bytes` as they come: a slice in place,
/// or a file's blocks ([`Blocks`]). tract's own reader copies them first.
fn decode(bytes: impl prost::bytes::Buf) -> Result<tract_onnx::pb::ModelProto, EngineError> {
    use prost::Message;
    tract_onnx::pb::ModelProto::decode(bytes)
        .map_err(|e| EngineError::InvalidEncoding(format!("Reading proto model: {e}")))
}

/// A file's bytes as the protobuf decoder reads them (`bytes::Buf`), one
/// block at a time: the model is decoded without the whole file in memory
/// beside it.
struct Blocks<R> {
    reader: R,
    block: Vec<u8>,
    /// Where the decoder is in `block`.
    at: usize,
    /// The bytes not yet decoded, `block[at..]` included.
    left: usize,
    /// A read that failed: the bytes end there, and the decoder with them.
    error: Option<std::io::Error>,
}

impl<R: std::io::Read> Blocks<R> {
    const BLOCK: usize = 64 << 10;

    fn new(reader: R, len: usize) -> Blocks<R> {
        let mut blocks = Blocks {
            reader,
            block: Vec::new(),
            at: 0,
            left: len,
            error: None,
        };
        blocks.next_block();
        blocks
    }

    fn next_block(&mut self) {
        let len = self.left.min(Self::BLOCK);
        self.block.resize(len, 0);
        self.at = 0;
        if let Err(e) = self.reader.read_exact(&mut self.block) {
            self.error = Some(e);
            self.block.clear();
            self.left = 0;
        }
    }
}

impl<R: std::io::Read> prost::bytes::Buf for Blocks<R> {
    fn remaining(&self) -> usize {
        self.left
    }

    fn chunk(&self) -> &[u8] {
        &self.block[self.at..]
    }

    fn advance(&mut self, mut count: usize) {
        while count > 0 && self.left > 0 {
            let step = count.min(self.block.len() - self.at);
            self.at += step;
            self.left -= step;
            count -= step;
            if self.at == self.block.len() && self.left > 0 {
                self.next_block();
            }
        }
    }
}

impl Model {
    /// Parses and optimises an ONNX model. The costly part: done once per
    /// graph, the plan is then shared by every execution context.
    pub fn from_onnx(bytes: &[u8]) -> Result<Model, EngineError> {
        Model::from_proto(decode(bytes)?)
    }

    /// As [`Model::from_onnx`], reading the model's `len` bytes from
    /// `reader` as it decodes them, so the file is never held whole: while
    /// loading, the peak is the decoded protobuf and tract's graph.
    pub fn from_onnx_reader(reader: impl std::io::Read, len: usize) -> Result<Model, EngineError> {
        let mut blocks = Blocks::new(reader, len);
        let proto = decode(&mut blocks);
        if let Some(e) = blocks.error {
            return Err(EngineError::InvalidEncoding(format!(
                "Reading the model: {e}"
            )));
        }
        Model::from_proto(proto?)
    }

    fn from_proto(proto: tract_onnx::pb::ModelProto) -> Result<Model, EngineError> {
        let invalid = |e: TractError| EngineError::InvalidEncoding(format!("{e:#}"));
        let graph = tract_onnx::onnx()
            .model_for_proto_model(&proto)
            .map_err(invalid)?;
        drop(proto);
        let plan = graph
            .into_optimized()
            .map_err(invalid)?
            .into_runnable()
            .map_err(invalid)?;
        let model = plan.model();
        let names = |outlets: &[OutletId]| -> Vec<String> {
            outlets
                .iter()
                .map(|o| {
                    model
                        .outlet_label(*o)
                        .unwrap_or(&model.node(o.node).name)
                        .to_string()
                })
                .collect()
        };
        let inputs = names(model.input_outlets().map_err(invalid)?);
        let outputs = names(model.output_outlets().map_err(invalid)?);
        Ok(Model {
            run_memory: run_memory(&plan),
            plan,
            inputs,
            outputs,
        })
    }

    /// The matrix kernels the optimised plan multiplies with, one entry per
    /// matrix product (a product may hold several kernels, one per shape
    /// mode). On wasm they must be the provider's own (`gemm`) or tract's
    /// SIMD kernels (`wasm_f32_*`): kernels register themselves through
    /// constructors, and a generic kernel here would mean they never ran.
    pub fn matmul_kernels(&self) -> Vec<String> {
        self.plan
            .model()
            .nodes()
            .iter()
            .filter_map(|node| node.op_as::<OptMatMul>())
            .map(|op| {
                op.mmm
                    .iter()
                    .map(|k| k.name())
                    .collect::<Vec<_>>()
                    .join("+")
            })
            .collect()
    }

    /// A zero tensor of the model's (single, fixed-shape) input, of its
    /// type, to time it.
    pub fn zero_input(&self) -> Result<Input, EngineError> {
        let model = self.plan.model();
        let fact = model
            .input_outlets()
            .ok()
            .and_then(|o| o.first().copied())
            .and_then(|o| model.outlet_fact(o).ok())
            .ok_or_else(|| EngineError::InvalidArgument("the model has no input".into()))?;
        let shape = fact
            .shape
            .as_concrete()
            .map(<[usize]>::to_vec)
            .ok_or_else(|| {
                EngineError::InvalidArgument("the model's input has no fixed shape".into())
            })?;
        let dimensions: Vec<u32> = shape.iter().map(|&d| d as u32).collect();
        let count = shape.iter().product();
        Ok(if fact.datum_type == u8::datum_type() {
            Input::U8 {
                dimensions,
                values: vec![0; count],
            }
        } else {
            Input::F32(F32Tensor {
                dimensions,
                values: vec![0.0; count],
            })
        })
    }

    /// A state to run the model with; kept by an execution context so its
    /// buffers are reused from one run to the next.
    pub fn session(&self) -> Result<Session, EngineError> {
        let state = self
            .plan
            .spawn()
            .map_err(|e| EngineError::Runtime(format!("{e:#}")))?;
        Ok(Session {
            state,
            inputs: self.inputs.clone(),
            outputs: self.outputs.clone(),
            run_memory: self.run_memory,
        })
    }
}

/// One execution context's state.
pub struct Session {
    state: TypedSimpleState,
    inputs: Vec<String>,
    outputs: Vec<String>,
    run_memory: u64,
}

impl Session {
    /// Runs the model on named inputs (in any order; a single input may have
    /// any name) and returns its named outputs.
    pub fn run(
        &mut self,
        named: Vec<(String, Input)>,
    ) -> Result<Vec<(String, F32Tensor)>, EngineError> {
        let mut named = named;
        // What the run holds, reckoned from the plan, with half again for
        // what the reckoning leaves out (CenterNet's 33 MB reckoned held
        // 45 MB, counted natively), and the inputs converted for tract.
        let inputs_bytes: u64 = named.iter().map(|(_, t)| t.byte_len()).sum();
        reserve(self.run_memory * 3 / 2 + inputs_bytes, "running this model")?;
        let mut inputs: TVec<TValue> = TVec::new();
        for want in &self.inputs {
            let at = match named.iter().position(|(n, _)| n == want) {
                Some(at) => at,
                None if self.inputs.len() == 1 && named.len() == 1 => 0,
                None => {
                    return Err(EngineError::InvalidArgument(format!(
                        "no input named '{want}' (the model takes {:?})",
                        self.inputs
                    )))
                }
            };
            let (_, t) = named.swap_remove(at);
            inputs.push(t.to_tract()?.into_tvalue());
        }
        let outputs = self
            .state
            .run_plan_with_eval(inputs, eval_node)
            .map_err(|e| EngineError::Runtime(format!("{e:#}")))?;
        outputs
            .into_iter()
            .zip(&self.outputs)
            .map(|(value, name)| {
                let value = value
                    .cast_to::<f32>()
                    .map_err(|e| EngineError::Runtime(format!("{e:#}")))?;
                let values = value
                    .try_as_plain_ram()
                    .and_then(|plain| plain.as_slice::<f32>().map(<[f32]>::to_vec))
                    .map_err(|e| EngineError::Runtime(format!("{e:#}")))?;
                let dimensions = value.shape().iter().map(|&d| d as u32).collect();
                Ok((name.clone(), F32Tensor { dimensions, values }))
            })
            .collect()
    }
}

/// Evaluates one node: tract's own evaluation, except for constant padding
/// of plain f32 tensors (the Pad before every padded convolution's im2col,
/// whole rows copied) and Resize of f32 tensors, done here at opt-level 3:
/// tract-core is built for size (Cargo.toml), which made those two loops
/// 2.5x slower.
fn eval_node(
    ctx: &tract_onnx::tract_core::plan::EvalContext,
    state: Option<&mut (dyn tract_onnx::tract_core::ops::OpState + 'static)>,
    node: &TypedNode,
    inputs: TVec<TValue>,
) -> TractResult<TVec<TValue>> {
    use tract_onnx::tract_core::ops::array::Pad;
    if state.is_none() && inputs.len() == 1 {
        if let Some(pad) = node.op_as::<Pad>() {
            if let Some(out) = pad_f32(pad, &inputs[0]) {
                return Ok(tvec!(out));
            }
        }
    }
    if state.is_none() {
        if let Some(resize) = node.op_as::<tract_onnx::tract_core::ops::nn::resize::Resize>() {
            if let Some(out) = resize_f32(resize, &inputs) {
                return Ok(tvec!(out));
            }
        }
    }
    tract_onnx::tract_core::plan::eval(ctx, state, node, inputs)
}

/// tract-core's Resize on a plain f32 tensor, with its plan (cheap) from
/// tract and the resampling loop (hot) here; or None to leave it to tract.
fn resize_f32(
    op: &tract_onnx::tract_core::ops::nn::resize::Resize,
    inputs: &TVec<TValue>,
) -> Option<TValue> {
    let input = inputs.first()?;
    if input.datum_type() != f32::datum_type() {
        return None;
    }
    let scales = op.optional_scales_input.and_then(|ix| inputs.get(ix));
    let sizes = op.optional_sizes_input.and_then(|ix| inputs.get(ix));
    let output_shape = op
        .compute_output_shape(input.shape(), scales.map(|t| &**t), sizes.map(|t| &**t))
        .ok()?;
    let scales: TVec<f32> = if let Some(scales) = scales.filter(|s| s.len() == input.rank()) {
        scales
            .try_as_plain_ram()
            .ok()?
            .as_slice::<f32>()
            .ok()?
            .into()
    } else {
        output_shape
            .iter()
            .zip(input.shape())
            .map(|(o, i)| *o as f32 / *i as f32)
            .collect()
    };
    let plain = input.try_as_plain_ram().ok()?;
    let mut data: std::borrow::Cow<[f32]> = plain.as_slice::<f32>().ok()?.into();
    let mut shape: TVec<usize> = input.shape().into();
    for (axis, scale) in scales.into_iter().enumerate() {
        let (len_in, len_out) = (shape[axis], output_shape[axis]);
        if len_in == len_out && scale == 1.0 {
            continue;
        }
        let plan = op.plan_axis(scale, len_in, len_out);
        let mut resampled = vec![0f32; data.len() / len_in * len_out];
        resample_axis(&data, &shape, axis, &plan, 0.0, &mut resampled);
        data = resampled.into();
        shape[axis] = len_out;
    }
    let array = tract_ndarray::ArrayD::from_shape_vec(&*shape, data.into_owned()).ok()?;
    Some(array.into_tensor().into_tvalue())
}

/// tract-core's `resample_axis`, the same loop in the same order (so the
/// same sums), built at this crate's opt-level.
fn resample_axis(
    input: &[f32],
    shape: &[usize],
    axis: usize,
    plan: &tract_onnx::tract_core::ops::nn::resize::AxisPlan,
    extrapolation_value: f32,
    output: &mut [f32],
) {
    let len_in = shape[axis];
    let len_out = plan.extrapolated.len();
    let inner: usize = shape[axis + 1..].iter().product();
    let window = plan.window;
    if len_in * inner == 0 || len_out * inner == 0 {
        return;
    }
    for (src, dst) in input
        .chunks_exact(len_in * inner)
        .zip(output.chunks_exact_mut(len_out * inner))
    {
        for (x, dst) in dst.chunks_exact_mut(inner).enumerate() {
            if plan.extrapolated[x] {
                dst.fill(extrapolation_value);
                continue;
            }
            dst.fill(0.0);
            let indices = &plan.indices[x * window..][..window];
            let weights = &plan.weights[x * window..][..window];
            for (&i, &w) in indices.iter().zip(weights) {
                if w == 0.0 {
                    continue;
                }
                for (d, s) in dst.iter_mut().zip(&src[i * inner..][..inner]) {
                    *d += w * s;
                }
            }
        }
    }
}

/// Constant padding of a plain f32 tensor, or None to leave it to tract.
fn pad_f32(pad: &tract_onnx::tract_core::ops::array::Pad, input: &TValue) -> Option<TValue> {
    use tract_onnx::tract_core::ops::array::PadMode;
    let PadMode::Constant(value) = &pad.mode else {
        return None;
    };
    if input.datum_type() != f32::datum_type()
        || input.rank() == 0
        || pad.pads.len() != input.rank()
    {
        return None;
    }
    let value = value.cast_to_scalar::<f32>().ok()?;
    let plain = input.try_as_plain_ram().ok()?;
    let src = plain.as_slice::<f32>().ok()?;
    let ishape = input.shape();
    let rank = ishape.len();
    let oshape: Vec<usize> = ishape
        .iter()
        .zip(&pad.pads)
        .map(|(d, (a, b))| d + a + b)
        .collect();
    let mut ostrides = vec![1usize; rank];
    for ax in (0..rank - 1).rev() {
        ostrides[ax] = ostrides[ax + 1] * oshape[ax + 1];
    }
    let mut out = vec![value; oshape.iter().product()];
    let inner = ishape[rank - 1];
    if inner > 0 && !src.is_empty() {
        let mut idx = vec![0usize; rank - 1];
        for row in src.chunks_exact(inner) {
            let mut at = pad.pads[rank - 1].0;
            for ax in 0..rank - 1 {
                at += (idx[ax] + pad.pads[ax].0) * ostrides[ax];
            }
            out[at..at + inner].copy_from_slice(row);
            for ax in (0..rank - 1).rev() {
                idx[ax] += 1;
                if idx[ax] < ishape[ax] {
                    break;
                }
                idx[ax] = 0;
            }
        }
    }
    let array = tract_ndarray::ArrayD::from_shape_vec(oshape, out).ok()?;
    Some(array.into_tensor().into_tvalue())
}

/// Where one run's time goes: total time and node count per kind of op,
/// slowest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub total: Duration,
    pub ops: Vec<(String, Duration, usize)>,
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        writeln!(f, "{:<28} {:>9} {:>6} {:>6}", "op", "ms", "share", "nodes")?;
        for (op, time, count) in &self.ops {
            let share = 100.0 * time.as_secs_f64() / self.total.as_secs_f64().max(1e-9);
            writeln!(f, "{op:<28} {:>9.2} {share:>5.1}% {count:>6}", ms(*time))?;
        }
        write!(f, "{:<28} {:>9.2}", "total", ms(self.total))
    }
}

impl Session {
    /// Runs the model `runs` times on `input` and times every node, summed
    /// per kind of op (the median run's share is what matters; the sum over
    /// runs keeps the timer's resolution out of it). For `make bench`.
    pub fn profile(&mut self, input: &Input, runs: usize) -> Result<Profile, EngineError> {
        let tensor = input.to_tract()?;
        let mut per_op: BTreeMap<String, (Duration, usize)> = BTreeMap::new();
        let started = Instant::now();
        for _ in 0..runs.max(1) {
            self.state
                .run_plan_with_eval(
                    tvec!(tensor.clone().into_tvalue()),
                    |ctx, state, node, inputs| {
                        let start = Instant::now();
                        let out = eval_node(ctx, state, node, inputs);
                        let entry = per_op.entry(node.op().name().to_string()).or_default();
                        entry.0 += start.elapsed();
                        entry.1 += 1;
                        out
                    },
                )
                .map_err(|e| EngineError::Runtime(format!("{e:#}")))?;
        }
        let runs = runs.max(1) as u32;
        let mut ops: Vec<_> = per_op
            .into_iter()
            .map(|(op, (time, count))| (op, time / runs, count / runs as usize))
            .collect();
        ops.sort_by_key(|op| std::cmp::Reverse(op.1));
        Ok(Profile {
            total: started.elapsed() / runs,
            ops,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensor_bytes_round_trip_and_sizes_are_checked() {
        let t = F32Tensor {
            dimensions: vec![1, 2],
            values: vec![1.5, -2.0],
        };
        let bytes = t.to_le_bytes();
        assert_eq!(F32Tensor::from_le_bytes(vec![1, 2], &bytes), Ok(t));
        assert!(matches!(
            F32Tensor::from_le_bytes(vec![1, 3], &bytes),
            Err(EngineError::InvalidArgument(_))
        ));
    }

    #[test]
    fn uint8_inputs_are_one_byte_a_value() {
        let input = Input::from_le_bytes(vec![1, 3], true, &[0, 128, 255]).unwrap();
        assert_eq!(input.byte_len(), 3);
        let tensor = input.to_tract().unwrap();
        assert_eq!(tensor.datum_type(), u8::datum_type());
        assert_eq!(
            tensor.try_as_plain_ram().unwrap().as_slice::<u8>().unwrap(),
            [0, 128, 255]
        );
        assert!(matches!(
            Input::from_le_bytes(vec![1, 4], true, &[0, 128, 255]),
            Err(EngineError::InvalidArgument(_))
        ));
        assert_eq!(
            Input::from_le_bytes(vec![1], false, &1.5f32.to_le_bytes()),
            Ok(Input::F32(F32Tensor {
                dimensions: vec![1],
                values: vec![1.5]
            }))
        );
    }

    #[test]
    fn garbage_is_an_invalid_encoding() {
        assert!(matches!(
            Model::from_onnx(b"not a model"),
            Err(EngineError::InvalidEncoding(_))
        ));
        assert!(matches!(
            Model::from_onnx_reader(&b"not a model"[..], 11),
            Err(EngineError::InvalidEncoding(_))
        ));
    }

    /// Bytes that differ from one position to the next.
    fn counting(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    #[test]
    fn blocks_give_the_readers_bytes_across_block_boundaries() {
        use prost::bytes::Buf;
        let data = counting(3 * Blocks::<&[u8]>::BLOCK + 123);
        let mut blocks = Blocks::new(&data[..], data.len());
        let mut read = Vec::new();
        // Uneven steps, one skipping two whole blocks.
        for step in [1, 70_000, 3, 2 * Blocks::<&[u8]>::BLOCK, 5000] {
            let step = step.min(blocks.remaining());
            read.extend_from_slice(&blocks.copy_to_bytes(step));
        }
        let rest = blocks.remaining();
        read.extend_from_slice(&blocks.copy_to_bytes(rest));
        assert_eq!(read, data);
        assert!(blocks.error.is_none());
    }

    #[test]
    fn a_file_shorter_than_its_size_is_an_invalid_encoding() {
        use prost::bytes::Buf;
        let data = counting(1000);
        let mut blocks = Blocks::new(&data[..], 2000);
        // The read fails at once: no bytes, and the decoder stops.
        assert_eq!(blocks.remaining(), 0);
        assert!(blocks.error.take().is_some());
        let err = Model::from_onnx_reader(&data[..], 2000).err().unwrap();
        assert!(
            matches!(&err, EngineError::InvalidEncoding(m) if m.contains("Reading the model")),
            "{err:?}"
        );
    }
}
