#!/usr/bin/env python3
"""Shrinks a WebAssembly component: runs Binaryen's `wasm-opt` on its main
core module and puts the result back in place.

    shrink-component.py IN.wasm OUT.wasm WASM-OPT [ARGS...]

A component wraps its core modules as length-prefixed sections; `wasm-opt`
only reads core modules. The component's other sections refer to the
module's imports and exports by name, which `wasm-opt` keeps, so swapping
the module's bytes (and its length) is all it takes. Only the largest module
is optimised: it holds the detector's code; the others are the small shims
wit-component generates.
"""

import os
import subprocess
import sys
import tempfile

COMPONENT_PREAMBLE = b"\x00asm\x0d\x00\x01\x00"
CORE_MODULE_SECTION = 1


def read_leb(data, pos):
    """An unsigned LEB128 at `pos`: (value, position after it)."""
    value, shift = 0, 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def write_leb(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def sections(data):
    """The top-level sections: (id, where the section begins, where its
    payload begins, where it ends)."""
    pos = len(COMPONENT_PREAMBLE)
    while pos < len(data):
        section_id = data[pos]
        size, start = read_leb(data, pos + 1)
        yield section_id, pos, start, start + size
        pos = start + size


def optimise(module, wasm_opt):
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "in.wasm"), os.path.join(tmp, "out.wasm")
        with open(src, "wb") as f:
            f.write(module)
        subprocess.run([*wasm_opt, src, "-o", dst], check=True)
        with open(dst, "rb") as f:
            return f.read()


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    src, dst, wasm_opt = sys.argv[1], sys.argv[2], sys.argv[3:]
    with open(src, "rb") as f:
        data = f.read()
    if not data.startswith(COMPONENT_PREAMBLE):
        sys.exit(f"{src} is not a WebAssembly component")
    modules = [m[1:] for m in sections(data) if m[0] == CORE_MODULE_SECTION]
    if not modules:
        sys.exit(f"{src} holds no core module")
    begin, start, end = max(modules, key=lambda m: m[2] - m[1])
    smaller = optimise(data[start:end], wasm_opt)
    section = bytes([CORE_MODULE_SECTION]) + write_leb(len(smaller)) + smaller
    out = data[:begin] + section + data[end:]
    with open(dst, "wb") as f:
        f.write(out)
    print(f"{src}: {len(data):,} -> {len(out):,} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
