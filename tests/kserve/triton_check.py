"""Checks the provider's binary encoding with an independent v2 client:
PyPI tritonclient (tests/kserve.rs).

    python tests/kserve/triton_check.py <server url> <model> <record dir>

<record dir> holds an infer request the provider sent and the answer it got
(tests/kserve/faulty.py's `record` mode). The input is read from the
request as v2 says (its JSON header, then `binary_data_size` bytes per
input), sent again by tritonclient with its own binary encoding, and the
outputs tritonclient decodes must be those in the provider's answer, bit
for bit. Prints one line per output.
"""

import json
import os
import sys

import numpy as np
import tritonclient.http as triton

url, model, record = sys.argv[1], sys.argv[2], sys.argv[3]


def read(name):
    with open(os.path.join(record, name + ".bin"), "rb") as f:
        data = f.read()
    with open(os.path.join(record, name + ".length")) as f:
        return data, int(f.read())


request, length = read("request")
header = json.loads(request[:length])
assert header["parameters"] == {"binary_data_output": True}, header
inputs, at = [], length
for spec in header["inputs"]:
    size = spec["parameters"]["binary_data_size"]
    array = np.frombuffer(request[at : at + size], dtype=triton.triton_to_np_dtype(spec["datatype"]))
    at += size
    tensor = triton.InferInput(spec["name"], spec["shape"], spec["datatype"])
    tensor.set_data_from_numpy(array.reshape(spec["shape"]), binary_data=True)
    inputs.append(tensor)
assert at == len(request), f"the request has {len(request) - at} bytes after its inputs"

client = triton.InferenceServerClient(url.removeprefix("http://"))
metadata = client.get_model_metadata(model)
outputs = [triton.InferRequestedOutput(o["name"], binary_data=True) for o in metadata["outputs"]]
theirs = client.infer(model, inputs, outputs=outputs)

answer, answer_length = read("answer")
ours = triton.InferResult.from_response_body(answer, header_length=answer_length)
for o in metadata["outputs"]:
    a, b = ours.as_numpy(o["name"]), theirs.as_numpy(o["name"])
    assert a.shape == b.shape and a.dtype == b.dtype, (o["name"], a.shape, b.shape)
    assert np.array_equal(a, b), f"{o['name']}: the outputs differ"
    print(o["name"], list(a.shape), a.dtype, "equal")
