#!/usr/bin/env python3
"""Gives a component's wasi:config import the name wasmtime implements it by,
so `wasmtime serve -S config` runs the portable build. Prints the path to
serve.

    config-for-wasmtime.py IN.wasm [OUT.wasm]

The portable build imports `wasi:config/store@0.2.0-draft-2024-09-27`: the
version Spin 3 implements application variables with. wasmtime 48's
`-S config` implements the same interface, the same WIT word for word, as
`wasi:config/store@0.2.0-rc.1`, and a linker matches a pre-release version
only exactly. This writes a copy (OUT, by default target/wasmtime/<name of
IN>) whose import has that name and prints its path; everything else is
unchanged, since inside the component the import is referred to by its
index. A component that does not import the Spin name is printed as it is.
"""

import importlib.util
import os
import pathlib
import sys
import tempfile

SPIN = b"wasi:config/store@0.2.0-draft-2024-09-27"
WASMTIME = b"wasi:config/store@0.2.0-rc.1"
COMPONENT_IMPORT_SECTION = 10

# The section walk and LEB128 helpers of shrink-component.py.
_spec = importlib.util.spec_from_file_location(
    "shrink_component", pathlib.Path(__file__).with_name("shrink-component.py")
)
wasm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(wasm)


def renamed(data):
    """`data` with its own import of SPIN named WASMTIME, or None when the
    component does not import SPIN."""
    old = wasm.write_leb(len(SPIN)) + SPIN
    new = wasm.write_leb(len(WASMTIME)) + WASMTIME
    for section_id, begin, start, end in wasm.sections(data):
        if section_id != COMPONENT_IMPORT_SECTION or old not in data[start:end]:
            continue
        payload = data[start:end].replace(old, new)
        section = bytes([section_id]) + wasm.write_leb(len(payload)) + payload
        return data[:begin] + section + data[end:]
    return None


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    src = pathlib.Path(sys.argv[1])
    root = pathlib.Path(__file__).resolve().parent.parent
    dst = pathlib.Path(sys.argv[2]) if len(sys.argv) == 3 else root / "target/wasmtime" / src.name
    data = src.read_bytes()
    if not data.startswith(wasm.COMPONENT_PREAMBLE):
        sys.exit(f"{src} is not a WebAssembly component")
    out = renamed(data)
    if out is None:
        print(src)
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and moved into place: a server may be reading the last copy.
    with tempfile.NamedTemporaryFile(dir=dst.parent, delete=False) as f:
        f.write(out)
    os.chmod(f.name, 0o644)
    os.replace(f.name, dst)
    print(dst)


if __name__ == "__main__":
    main()
