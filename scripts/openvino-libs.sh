#!/usr/bin/env bash
# Prints the folder that holds the OpenVINO runtime libraries the host loads
# for the OpenVINO wasi-nn backend: `openvino/libs/` of the PyPI `openvino`
# wheel pinned in scripts/requirements.txt, installed in the project's venv.
# The wheel names its C API library only `libopenvino_c.so.<version>`; the
# host looks for `libopenvino_c.so`, so the unversioned name is added there.
# Serve with LD_LIBRARY_PATH set to this folder (scripts/serve.sh does).
. "$(dirname "$0")/lib.sh"

py="$("$ROOT/scripts/python-env.sh")"
venv="$(dirname "$(dirname "$py")")"
libs=("$venv"/lib/python3*/site-packages/openvino/libs)
[ -d "${libs[0]}" ] || die "no openvino/libs in $venv: is openvino in scripts/requirements.txt?"
libs="${libs[0]}"
if [ ! -e "$libs/libopenvino_c.so" ]; then
    versioned=("$libs"/libopenvino_c.so.*)
    [ -f "${versioned[0]}" ] || die "no libopenvino_c.so.* in $libs"
    ln -sf "$(basename "${versioned[0]}")" "$libs/libopenvino_c.so"
fi
echo "$libs"
