#!/usr/bin/env python3
"""What `spin deploy` and `spin registry push` upload for a Spin manifest: each
component's `source` and every file its `files` mount (a path, a glob, or a
`{ source = <folder>, destination = ... }` entry taken whole), and the
largest mounted file, the largest answer a file route can give (Akamai
Functions and Fermyon Cloud take at most 10 MB an answer).

Usage: spin-upload.py [spin.toml]; prints one summary line.
"""
import glob
import os
import sys
import tomllib

MIB = 1024 * 1024
AKAMAI_APP = 50 * MIB  # Akamai Functions: at most 50 MiB an application


def mounted(root, entry):
    """The files one `files` entry mounts, as paths under `root`."""
    if isinstance(entry, dict):
        top = os.path.join(root, entry["source"])
        if os.path.isfile(top):
            return [top]
        return [os.path.join(d, f) for d, _, names in os.walk(top) for f in names]
    return [p for p in glob.glob(os.path.join(root, entry), recursive=True) if os.path.isfile(p)]


def main():
    manifest = sys.argv[1] if len(sys.argv) > 1 else "spin.toml"
    root = os.path.dirname(os.path.abspath(manifest))
    with open(manifest, "rb") as f:
        app = tomllib.load(f)
    sources, files = set(), set()
    for component in app.get("component", {}).values():
        sources.add(os.path.join(root, component["source"]))
        for entry in component.get("files", []):
            files.update(mounted(root, entry))
    missing = [f for f in sources if not os.path.exists(f)]
    if missing:
        sys.exit(f"{manifest}: not built: {', '.join(sorted(missing))}")
    sizes = {f: os.path.getsize(f) for f in files}
    total = sum(sizes.values()) + sum(os.path.getsize(f) for f in sources)
    largest = max(sizes, key=sizes.get)
    fits = "fits" if total <= AKAMAI_APP else "over"
    print(
        f"spin app ({os.path.relpath(manifest)}): {total:,} bytes uploaded, the component and {len(files)} files "
        f"({total / MIB:.1f} MiB, {fits} Akamai Functions' 50 MiB); "
        f"largest file {os.path.relpath(largest, root)} ({sizes[largest]:,} bytes)"
    )


if __name__ == "__main__":
    main()
