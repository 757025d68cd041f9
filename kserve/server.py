"""A KServe v2 (Open Inference Protocol) server for the models of models/.

A real `kserve` ModelServer (PyPI kserve, REST with the binary tensor data
extension) with one `kserve.Model` per model folder that has a model.onnx,
run by ONNX Runtime on the CPU. The wasi:nn provider of provider-kserve/ is
tested and measured against it; it is also the quickest way to try the
detector over a v2 server on one machine (`make run-kserve` starts it).

    python kserve/server.py --models-dir models --port 8000 [--model nanodet ...]

kserve's ModelServer listens on every interface (0.0.0.0, its own choice):
on a machine others can reach, firewall the port or use
`wasi-detect-host v2`, which takes an address.
"""

import argparse
import os
import sys

import numpy as np
import onnxruntime as ort
from kserve import InferInput, InferOutput, InferRequest, InferResponse, Model, ModelServer

# kserve 0.21 reads a binary input (the binary tensor data extension) and then
# turns it into a Python list, one `.item()` per value: 185 ms of a request
# for NanoDet's 519,168 floats, four times the inference. Kept as the bytes
# it came in, `as_numpy()` reads it with `np.frombuffer` instead.
_set_data_from_numpy = InferInput.set_data_from_numpy


def _keep_binary(self, tensor, binary_data=True):
    if not binary_data and self._raw_data is not None and self.datatype != "BYTES":
        return
    _set_data_from_numpy(self, tensor, binary_data)


InferInput.set_data_from_numpy = _keep_binary

# v2's datatype names for the numpy types ONNX models use.
DATATYPES = {
    np.float32: "FP32",
    np.float16: "FP16",
    np.float64: "FP64",
    np.int64: "INT64",
    np.int32: "INT32",
    np.uint8: "UINT8",
    np.int8: "INT8",
    np.bool_: "BOOL",
}
ONNX_TYPES = {
    "tensor(float)": "FP32",
    "tensor(float16)": "FP16",
    "tensor(double)": "FP64",
    "tensor(int64)": "INT64",
    "tensor(int32)": "INT32",
    "tensor(uint8)": "UINT8",
    "tensor(int8)": "INT8",
    "tensor(bool)": "BOOL",
}


def shape_of(arg):
    """An ONNX input's or output's shape, -1 for a dimension without a size."""
    return [d if isinstance(d, int) else -1 for d in arg.shape]


class OnnxModel(Model):
    """One ONNX model: metadata from the graph, inference by ONNX Runtime."""

    def __init__(self, name, path, threads, spinning):
        super().__init__(name)
        self.path = path
        self.threads = threads
        self.spinning = spinning
        self.session = None

    def load(self):
        options = ort.SessionOptions()
        if self.threads:
            options.intra_op_num_threads = self.threads
        if not self.spinning:
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(
            self.path, options, providers=["CPUExecutionProvider"]
        )
        self.ready = True
        return self.ready

    def _types(self, args):
        return [
            {"name": a.name, "datatype": ONNX_TYPES.get(a.type, a.type), "shape": shape_of(a)}
            for a in args
        ]

    def get_input_types(self):
        return self._types(self.session.get_inputs())

    def get_output_types(self):
        return self._types(self.session.get_outputs())

    def predict(self, payload: InferRequest, headers=None, response_headers=None):
        feeds = {i.name: i.as_numpy() for i in payload.inputs}
        requested = {o.name: (o.parameters or {}) for o in payload.request_outputs or []}
        names = list(requested) or [o.name for o in self.session.get_outputs()]
        results = self.session.run(names, feeds)
        outputs = []
        for name, array in zip(names, results):
            array = np.ascontiguousarray(array)
            # Binary when the request asks for it, for all outputs
            # (`binary_data_output`) or for this one (`binary_data`).
            binary = requested.get(name, {}).get("binary_data", payload.use_binary_outputs)
            out = InferOutput(name=name, shape=list(array.shape), datatype=DATATYPES[array.dtype.type])
            out.set_data_from_numpy(array, binary_data=bool(binary))
            outputs.append(out)
        # The binary extension: answer in binary when the request asked for it
        # (kserve's default InferResponse would answer JSON numbers).
        return InferResponse(
            response_id=payload.id or "",
            model_name=self.name,
            infer_outputs=outputs,
            use_binary_outputs=payload.use_binary_outputs,
            requested_outputs=payload.request_outputs,
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", default="models")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--model", action="append", help="serve only these (default: every folder with a model.onnx)")
    parser.add_argument("--threads", type=int, default=0, help="ONNX Runtime's threads per model (default: its own)")
    # ONNX Runtime's threads spin while they wait for work, by default: the
    # lowest latency for a lone request, but on a machine shared with the
    # detector's host (the bench's loopback) a quarter less CPU per request
    # without, at 2 ms more latency (docs/performance.md).
    parser.add_argument("--no-spinning", action="store_true", help="ONNX Runtime's threads sleep when idle")
    args = parser.parse_args()
    names = args.model or sorted(
        n for n in os.listdir(args.models_dir)
        if os.path.isfile(os.path.join(args.models_dir, n, "model.onnx"))
    )
    models = []
    for name in names:
        model = OnnxModel(name, os.path.join(args.models_dir, name, "model.onnx"), args.threads,
                          not args.no_spinning)
        model.load()
        models.append(model)
    ModelServer(http_port=args.port, enable_grpc=False, workers=1).start(models)


if __name__ == "__main__":
    sys.exit(main())
