"""The reference outputs of a TF.js graph model: the original model.json and
weights run by TensorFlow.js (npm @tensorflow/tfjs, its pure-JS CPU backend,
under Node.js: models/tfjs/run_graph.js) on given input tensors. What the
models' verify_*.py compare a conversion with.

The outputs are kept under a cache folder keyed by everything they depend on
(the model files, TensorFlow.js's lock file, run_graph.js and the inputs), so
only the first check of a conversion waits for TensorFlow.js (seconds a photo).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import tfjs_graph

ROOT = Path(__file__).resolve().parent.parent
RUNNER = ROOT / "models" / "tfjs" / "run_graph.js"
LOCK = ROOT / "models" / "tfjs" / "package-lock.json"
CACHE = Path(os.environ.get("WASI_DETECT_CACHE")
             or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "wasi-detect")


def as_input(x: np.ndarray, uint8: bool) -> np.ndarray:
    """A reference input tensor, whole pixel values, as the model under test
    takes it: uint8 for a model that takes the pixels (`ModelInfo.normalise`),
    else float32."""
    if not uint8:
        return x.astype(np.float32)
    if np.any(x != np.round(x)) or x.min() < 0 or x.max() > 255:
        sys.exit("a reference input is not whole pixel values, 0 to 255")
    return x.astype(np.uint8)


def default_source(info: tfjs_graph.ModelInfo) -> Path:
    """Where models/build.sh keeps the npm tarball of `info`'s package."""
    # npm names the tarball of @scope/name "scope-name-<version>.tgz".
    return CACHE / "npm" / f"{info.package.lstrip('@').replace('/', '-')}-{info.version}.tgz"


def tfjs_outputs(info: tfjs_graph.ModelInfo, sources: list[bytes],
                 tensors: dict[str, np.ndarray], outputs: dict[str, tuple[str, list[int]]],
                 node_modules: Path, cache: Path) -> dict[str, dict[str, np.ndarray]]:
    """TF.js's outputs for each input tensor (name -> array of the model's
    input dtype, float32 or int32): name -> {what: array}, for `outputs`
    (what -> (TF tensor name, shape))."""
    h = hashlib.sha256()
    for blob in [*sources, RUNNER.read_bytes(), LOCK.read_bytes()]:
        h.update(hashlib.sha256(blob).digest())
    for name, x in sorted(tensors.items()):
        h.update(f"{name}\0{x.dtype}\0{x.shape}\0".encode() + hashlib.sha256(x.tobytes()).digest())
    h.update(repr(sorted(outputs.items())).encode())
    folder = cache / h.hexdigest()[:16]
    files = {name: {what: folder / f"{name}.{tf.replace('/', '_')}.f32"
                    for what, (tf, _) in outputs.items()} for name in tensors}
    if not (folder / "done").is_file():
        print(f"running the TF.js model in TensorFlow.js ({len(tensors)} photos)", file=sys.stderr)
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            (tmp / "out").mkdir()
            paths = []
            for path, blob in zip(info.source_files, sources):
                paths.append(tmp / os.path.basename(path))
                paths[-1].write_bytes(blob)
            inputs, shapes = [], {x.shape for x in tensors.values()}
            if len(shapes) != 1:
                raise ValueError(f"input tensors of several shapes: {shapes}")
            for name, x in tensors.items():
                f = tmp / f"{name}.{'i32' if x.dtype.kind == 'i' else 'f32'}"
                x.astype("<i4" if x.dtype.kind == "i" else "<f4").tofile(f)
                inputs.append(str(f))
            subprocess.run(
                ["node", str(RUNNER), "--shape", ",".join(map(str, shapes.pop())),
                 str(node_modules), str(paths[0]), ",".join(map(str, paths[1:])),
                 str(tmp / "out"), ",".join(tf for tf, _ in outputs.values()), *inputs],
                check=True, stdout=sys.stderr)
            (tmp / "out" / "done").write_text("")
            cache.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(folder, ignore_errors=True)
            shutil.move(tmp / "out", folder)
    return {name: {what: np.fromfile(f, "<f4").reshape(outputs[what][1]) for what, f in fs.items()}
            for name, fs in files.items()}
