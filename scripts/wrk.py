#!/usr/bin/env python3
"""Runs wrk against POST /predict with an image and reads its report.

    wrk.py URL IMAGE CONNECTIONS SECONDS   prints the figures as JSON

Used by scripts/load.sh and bench/bench.py. wrk itself is Debian's package.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path


def _ms(text: str, label: str) -> float:
    m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    if not m:
        return float("nan")
    return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]


def parse(text: str) -> dict:
    """The figures of one wrk --latency report."""
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    )
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return {
        "requests": int(re.search(r"(\d+) requests in", text).group(1)),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),
        "p50_ms": _ms(text, "50"),
        "p90_ms": _ms(text, "90"),
        "p99_ms": _ms(text, "99"),
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sum(map(int, errors.groups())) if errors else 0,
    }


def run(url: str, image: Path, connections: int, seconds: int) -> dict:
    """wrk on `url` (the /predict URL) for `seconds` with `connections`."""
    media = "image/png" if image.suffix == ".png" else "image/jpeg"
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(
            f'wrk.method = "POST"\n'
            f'wrk.headers["content-type"] = "{media}"\n'
            f'local f = assert(io.open("{image}", "rb"))\n'
            f"wrk.body = f:read(\"*a\")\nf:close()\n"
        )
    try:
        out = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s",
             "--latency", "-s", lua.name, url],
            check=True, capture_output=True, text=True,
        ).stdout
    finally:
        Path(lua.name).unlink()
    return parse(out) | {"connections": connections, "seconds": seconds}


if __name__ == "__main__":
    url, image, connections, seconds = sys.argv[1:5]
    print(json.dumps(run(url, Path(image), int(connections), int(seconds))))
