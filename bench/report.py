"""BENCHMARKS.md and its chart from bench.py's results."""

from __future__ import annotations

from html import escape
from pathlib import Path

LAMBDA_BUDGET = 50 * 1024 * 1024  # tensorflow-lambda's deploy budget, 50 MB
ENGINES = {"onnx": "ONNX Runtime", "openvino": "OpenVINO"}
STEP_NAMES = {
    "body": "read body", "decode": "decode", "orient": "EXIF orientation",
    "resize": "resize (letterbox or stretch)", "tensor": "tensor (the model's input)",
    "copy-in": "tensor copy into the host", "inference": "inference (wasi-nn compute)",
    "copy-out": "outputs copied back", "postprocess": "post-processing",
    "json": "JSON",
}
# coco-ssd end to end over its engine alone, ONNX Runtime, small photo.
COCO_SSD_GOAL = 1.4
# End to end over the engine alone, ONNX Runtime, per image (bench.py's
# names): what a run must reach. The small photo's 1.25x stays the
# long-run goal beside these.
E2E_GOALS = {
    "photo 640x480 JPEG": 1.4,
    "phone 4000x3000 JPEG": 2.5,
    "phone 4000x3000 JPEG, EXIF 6": 2.5,
    # The native throughput issue's goal for the two images decoded in full.
    "photo 741x500 progressive JPEG": 1.5,
    "photo 741x500 PNG": 1.5,
}
MIB = 1024 * 1024
# The other models' sections (bench.py's OTHER_MODELS).
MODEL_NAMES = {"centernet": "CenterNet", "coco-ssd": "coco-ssd"}
MODEL_INTROS = {
    "centernet": ["`models/centernet`: 512x512 NHWC, its detections decoded in the graph."],
    "coco-ssd": ["`models/coco-ssd`, TF.js coco-ssd's SSDLite MobileNetV2: the whole photo at",
                 "300x300 NHWC, its boxes decoded in the graph. Target: end to end at most",
                 f"{COCO_SSD_GOAL}x its engine alone, the small photo, ONNX Runtime."],
}


def ms(v: float) -> str:
    return f"{v:.1f}"


def write(r: dict, markdown: Path, svg: Path) -> None:
    m = r["machine"]
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`bench/bench.py`); every figure below comes from",
        "one run on one machine. Latencies in milliseconds.",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['system']}.",
        "",
        "![End to end against the engine alone](docs/bench.svg)",
        "",
        "## Targets",
        "",
        "| target | measured | met |",
        "| --- | --- | --- |",
        *targets(r),
        "",
        "## Images",
        "",
        "| image | file | pixels | bytes |",
        "| --- | --- | --- | --- |",
    ]
    for name, img in r["images"].items():
        pixels = img["size"]
        if img.get("displayed", pixels) != pixels:
            pixels += f" (displayed {img['displayed']})"
        lines.append(f"| {name} | `{img['path']}` | {pixels} | {img['bytes']:,} |")

    lines += ["", "## The engine alone against end to end", "",
              "The engine alone: the model called natively from Python on the small photo's",
              "input tensor, default session settings (as the host's), after 10 warm-up runs.",
              "End to end: `POST /predict` over HTTP to the real host (`scripts/serve.sh`:",
              "the gate, wasmtime serve, the component, wasi-nn), warm, one keep-alive",
              "connection, after 5 warm-up requests. Ratio: end-to-end p50 over the",
              "engine's p50 on the same backend (targets: at most 1.25 for the small photo",
              "in the long run; the goal per image, ONNX Runtime, in Targets above).",
              "",
              "| backend | what | n | p50 | p90 | p99 | ratio (p50) |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for backend, nat in r["native"].items():
        engine = f"{ENGINES[backend]} {nat['version']}"
        lines.append(f"| {ENGINES[backend]} | {engine} alone | {nat['n']} | {ms(nat['p50'])} "
                     f"| {ms(nat['p90'])} | {ms(nat['p99'])} | 1.00 |")
        for image, e in r["e2e"][backend].items():
            lines.append(f"| {ENGINES[backend]} | end to end, {image} | {e['n']} | {ms(e['p50'])} "
                         f"| {ms(e['p90'])} | {ms(e['p99'])} | {e['p50'] / nat['p50']:.2f} |")

    for model, runs in r.get("models", {}).items():
        lines += ["", f"## {MODEL_NAMES[model]}", "", *MODEL_INTROS[model],
                  "Measured as NanoDet above: its engine alone on the small photo's input",
                  "tensor, end to end with a server that serves it alone.", "",
                  "| backend | what | n | p50 | p90 | inference (median) | ratio (p50) |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for backend, c in runs.items():
            nat = c["native"]
            lines.append(f"| {ENGINES[backend]} | {ENGINES[backend]} {nat['version']} alone "
                         f"| {nat['n']} | {ms(nat['p50'])} | {ms(nat['p90'])} | | 1.00 |")
            for image, e in c["e2e"].items():
                lines.append(f"| {ENGINES[backend]} | end to end, {image} | {e['n']} | {ms(e['p50'])} "
                             f"| {ms(e['p90'])} | {ms(e['steps'].get('inference', float('nan')))} "
                             f"| {e['p50'] / nat['p50']:.2f} |")

    if r.get("peer"):
        ours = r["e2e"]["onnx"]
        lines += ["", "## Against a plain Python server", "",
                  "The peer, `bench/peer.py`, is the plain Python server one would write to",
                  "serve the same model: the standard library's `http.server`, Pillow (large",
                  "JPEGs decoded at a reduced scale with `Image.draft`, the component's rule),",
                  "NumPy, ONNX Runtime with default session options, and the reference",
                  "detector's pre- and post-processing. It is measured exactly as the",
                  "component, by the same code: the same images, warm, one keep-alive",
                  "connection, the same number of requests, once the component's servers",
                  "have stopped. Ours: the component end to end with ONNX Runtime (above).",
                  f"Target: ours / peer at most {PEER_GOAL} (p50) on every image.", "",
                  "| image | n | ours p50 | peer p50 | peer p90 | peer p99 | ours / peer (p50) |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for image, e in r["peer"].items():
            lines.append(f"| {image} | {e['n']} | {ms(ours[image]['p50'])} | {ms(e['p50'])} "
                         f"| {ms(e['p90'])} | {ms(e['p99'])} | {ours[image]['p50'] / e['p50']:.2f} |")

    node = r.get("node_peer")
    if node:
        ours = r["e2e"]["onnx"]
        lines += ["", "## Against a Node.js server", "",
                  "The Node.js peer, `bench/node-peer/peer.mjs`, is the server a web developer",
                  "would write: `node:http`, sharp (libvips: JPEG shrink-on-load, EXIF",
                  "auto-rotate, a bilinear resize) and onnxruntime-node with its default",
                  "session options, the same NanoDet model, letterbox and post-processing.",
                  "Measured as the Python peer, once our servers have stopped.", "",
                  "| image | n | ours p50 | Node p50 | Node p90 | ours / Node (p50) |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for image, e in node["e2e"].items():
            lines.append(f"| {image} | {e['n']} | {ms(ours[image]['p50'])} | {ms(e['p50'])} "
                         f"| {ms(e['p90'])} | {ours[image]['p50'] / e['p50']:.2f} |")
        mine = r["throughput"].get("default", {})
        lines += ["", "Requests/s on the 640x480 JPEG (wrk), ours with the host's default settings:",
                  "", "| connections | ours | Node | ours / Node |", "| --- | --- | --- | --- |"]
        for c, t in node["throughput"].items():
            if c in mine:
                lines.append(f"| {c} | {mine[c]['rps']:.1f} | {t['rps']:.1f} "
                             f"| {mine[c]['rps'] / t['rps']:.2f} |")
        lines += ["", "Its answers against ours (detections paired by class and IoU over 0.5):", "",
                  "| image | ours | Node | paired | worst IoU | largest score difference |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for image, a in node["agreement"].items():
            worst = "" if a["min_iou"] is None else f"{a['min_iou']:.3f}"
            diff = "" if a["max_score_diff"] is None else f"{a['max_score_diff']:.3f}"
            lines.append(f"| {image} | {a['ours']} | {a['peer']} | {a['paired']} | {worst} | {diff} |")

    lines += ["", "## Where the time goes", "",
              "Medians of the component's `Server-Timing` header over the end-to-end runs",
              "(every answer carries it, so curl users and the page see the same).", ""]
    for backend, per_image in r["e2e"].items():
        images = list(per_image)
        lines += [f"### {ENGINES[backend]}", "",
                  "| step | " + " | ".join(images) + " |",
                  "| --- |" + " --- |" * len(images)]
        steps = [s for s in STEP_NAMES if any(s in per_image[i]["steps"] for i in images)]
        for step in steps:
            cells = [ms(per_image[i]["steps"].get(step, float("nan"))) for i in images]
            lines.append(f"| {STEP_NAMES[step]} | " + " | ".join(cells) + " |")
        totals = [ms(sum(per_image[i]["steps"].values())) for i in images]
        lines.append("| **inside the component** | " + " | ".join(totals) + " |")
        lines.append("| **end to end, p50** | "
                     + " | ".join(ms(per_image[i]["p50"]) for i in images) + " |")
        lines.append("")

    lines += ["### The same steps natively", "",
              "`benches/pipeline.rs` (criterion) on the test photos, the detector's code",
              "compiled for this CPU with the release profile: what the steps cost without",
              "the wasm runtime. Medians.", "",
              "| step | ms |", "| --- | --- |"]
    for name, median in r["criterion"].items():
        lines.append(f"| {name} | {median:.3f} |")
    lines.append("")

    c = r["cold"]
    lines += ["## Cold start", "",
              "From starting `scripts/serve.sh` to the first `/predict` answer (the small",
              "photo), ONNX Runtime; and the first `/predict` of an instance that `/warm`",
              "prepared. Target: at most 150 ms (precompiled, graph preloaded).", "",
              "| what | n | p50 | p90 |", "| --- | --- | --- | --- |"]
    for label, v in c.items():
        lines.append(f"| {label} | {v['n']} | {ms(v['p50'])} | {ms(v['p90'])} |")

    lines += ["", "## Throughput", "",
              "`wrk` on `/predict` with the small photo, "
              f"{seconds(r)} s per row, with the host's ways to run ONNX Runtime: its",
              "default (adaptive: a lone inference on every core, inferences that meet on",
              "one core each), one session on every core (inferences queue), one session",
              "per core with one thread each; and OpenVINO's default (each instance's",
              "compiled model on every core, its threads not pinned to cores).",
              "Scaling: requests/s over one connection's;",
              "a lone request's p50 over one keep-alive connection before wrk.", "",
              "| host setting | connections | requests/s | scaling | p50 | p99 | non-2xx |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, t in r["throughput"].items():
        label = f"{name} (`{t['args']}`)" if t["args"] else name
        if "lone" in t:
            lines.append(f"| {label} | a lone request | | | {ms(t['lone']['p50'])} "
                         f"| {ms(t['lone']['p99'])} | |")
        for conns in ("1", "2", "4"):
            w = t[conns]
            lines.append(f"| {label} | {conns} | {w['rps']:.1f} | {w['rps'] / t['1']['rps']:.2f}x "
                         f"| {ms(w['p50_ms'])} | {ms(w['p99_ms'])} | {w['non2xx']} |")
    lines.append("")
    for name, t in r["throughput"].items():
        lines.append(f"Peak host RSS, {name}: {t['peak_rss_mb']:.0f} MB.  ")

    if r.get("memory"):
        lines += ["", "## Memory", "",
                  "The component's linear memory (`/warm`'s `memory_bytes`) after one",
                  "`/predict` of each image, ONNX Runtime: a fresh server per image, since an",
                  "instance's memory only grows, with one request in flight so that",
                  "`/predict` and `/warm` run in one instance.", "",
                  "| after | linear memory, MiB |", "| --- | --- |"]
        for name, size in r["memory"].items():
            lines.append(f"| {name} | {size / MIB:.1f} |")

    if r.get("portable"):
        lines += portable_section(r)

    if r.get("kserve"):
        lines += kserve_section(r)

    if r.get("private"):
        lines += private_section(r)

    s = r["size"]
    lines += ["", "## Size", "",
              "| artifact | bytes | gzipped | share of a 50 MB function budget |",
              "| --- | --- | --- | --- |",
              f"| `wasi-detect.wasm` | {s['bytes']:,} | {s['gzip']:,} "
              f"| {100 * s['bytes'] / LAMBDA_BUDGET:.2f}% |", ""]
    markdown.write_text("\n".join(lines))
    svg.parent.mkdir(parents=True, exist_ok=True)
    svg.write_text(chart(r))


def seconds(r: dict) -> float:
    return next(iter(r["throughput"].values()))["1"]["seconds"]


def targets(r: dict) -> list[str]:
    rows = []
    small = next(iter(r["images"]))
    for backend, nat in r["native"].items():
        ratio = r["e2e"][backend][small]["p50"] / nat["p50"]
        rows.append((f"warm end to end p50 <= 1.25x the engine alone, {small}, {ENGINES[backend]}",
                     f"{ratio:.2f}x ({r['e2e'][backend][small]['p50']:.1f} / {nat['p50']:.1f} ms)",
                     ratio <= 1.25))
    native = r["native"].get("onnx")
    for image, goal in E2E_GOALS.items():
        e = r["e2e"].get("onnx", {}).get(image)
        if native and e:
            ratio = e["p50"] / native["p50"]
            rows.append((f"warm end to end p50 <= {goal}x the engine alone, {image}, ONNX Runtime",
                         f"{ratio:.2f}x ({e['p50']:.1f} / {native['p50']:.1f} ms)", ratio <= goal))
    coco = r.get("models", {}).get("coco-ssd", {}).get("onnx")
    if coco:
        e, nat = coco["e2e"][small]["p50"], coco["native"]["p50"]
        rows.append((f"coco-ssd warm end to end p50 <= {COCO_SSD_GOAL}x its engine alone, {small}, "
                     "ONNX Runtime", f"{e / nat:.2f}x ({e:.1f} / {nat:.1f} ms)",
                     e / nat <= COCO_SSD_GOAL))
    for label, peers in [("Python", r.get("peer", {})),
                         ("Node.js", r.get("node_peer", {}).get("e2e", {}))]:
        for image, peer in peers.items():
            ours = r["e2e"]["onnx"][image]["p50"]
            ratio = ours / peer["p50"]
            rows.append((f"warm end to end p50 <= {PEER_GOAL}x the {label} peer's, {image}, "
                         "ONNX Runtime", f"{ratio:.2f}x ({ours:.1f} / {peer['p50']:.1f} ms)",
                         ratio <= PEER_GOAL))
    node_rps = r.get("node_peer", {}).get("throughput", {})
    mine = r["throughput"].get("default", {})
    for c in ("2", "4"):
        if c in node_rps and c in mine:
            ratio = mine[c]["rps"] / node_rps[c]["rps"]
            rows.append((f"requests/s at {c} connections >= {PEER_RPS_GOAL}x the Node.js peer's, "
                         "default settings", f"{ratio:.2f}x ({mine[c]['rps']:.1f} / "
                         f"{node_rps[c]['rps']:.1f})", ratio >= PEER_RPS_GOAL))
    first = r["cold"]["precompiled (.cwasm)"]["p50"]
    rows.append(("first /predict answer <= 150 ms after the server starts (precompiled)",
                 f"{first:.0f} ms", first <= 150))
    size = r["size"]["bytes"]
    rows.append(("component <= 500 KB (512,000 bytes)", f"{size:,} bytes", size <= 512_000))
    rows += portable_targets(r)
    rows += kserve_targets(r)
    rows += private_targets(r)
    adaptive, single = r["throughput"].get("default"), r["throughput"].get("one session, every core")
    if adaptive and single and "lone" in adaptive:
        ratio = adaptive["lone"]["p50"] / single["lone"]["p50"]
        rows.append((f"a lone request's p50 with the default <= {LONE_GOAL}x one session on every "
                     "core's", f"{ratio:.2f}x ({adaptive['lone']['p50']:.1f} / "
                     f"{single['lone']['p50']:.1f} ms)", ratio <= LONE_GOAL))
    for name, t in r["throughput"].items():
        scaling = t["2"]["rps"] / t["1"]["rps"]
        rows.append((f"throughput scales to both cores (2 connections >= 1.8x one; "
                     f"{r['machine']['cores']} cores), {name}",
                     f"{scaling:.2f}x ({t['2']['rps']:.1f} / {t['1']['rps']:.1f} requests/s)",
                     scaling >= 1.8))
    return [f"| {what} | {got} | {'yes' if ok else 'no'} |" for what, got, ok in rows]


# Ours against the servers a user would write instead: latency at most 0.9x
# theirs, and 1.1x their requests/s under load (the native throughput issue).
PEER_GOAL, PEER_RPS_GOAL = 0.9, 1.1
# The adaptive ONNX pool against the single session it replaced as default,
# a lone request's p50.
LONE_GOAL = 1.05


# The portable build: its built-in model end to end over native ONNX
# Runtime alone on NanoDet, a fresh instance per request over reused ones,
# and the built-in model's inference over NanoDet's in tract (coco-ssd is
# built in where it is at least twice as fast).
PORTABLE_GOAL, FRESH_GOAL, BUILT_IN_GOAL = 5.0, 1.1, 0.5
# Under Spin's engine settings, a fresh instance per request over a reused
# instance without epoch checks (the platforms issue's goal).
SPIN_FRESH_GOAL = 1.2


def portable_targets(r: dict) -> list[tuple[str, str, bool]]:
    p = r.get("portable")
    native = r["native"].get("onnx")
    if not p or not native:
        return []
    small = next(iter(r["images"]))
    rows = []
    e = p["e2e"][small]["p50"]
    built_in = p.get("built_in", "its built-in model")
    rows.append((f"portable warm end to end p50, {built_in} built in, <= {PORTABLE_GOAL}x native "
                 f"ONNX Runtime alone on NanoDet, {small}",
                 f"{e / native['p50']:.2f}x ({e:.1f} / {native['p50']:.1f} ms)",
                 e / native["p50"] <= PORTABLE_GOAL))
    nanodet = p.get("others", {}).get("nanodet")
    if nanodet:
        ours, theirs = p["e2e"][small]["steps"]["inference"], nanodet["steps"]["inference"]
        rows.append((f"portable: {built_in}'s inference <= {BUILT_IN_GOAL}x NanoDet's in tract "
                     f"(median, {small})", f"{ours / theirs:.2f}x ({ours:.1f} / {theirs:.1f} ms)",
                     ours / theirs <= BUILT_IN_GOAL))
    code = p["size"]["code only"]["bytes"]
    rows.append(("portable artifact without a model (code only) <= 8 MB (8,000,000 bytes)",
                 f"{code:,} bytes", code <= 8_000_000))
    fresh, reused = p["fresh"]["pre-initialised"]["p50"], e
    rows.append((f"portable, a fresh instance per request / instances reused <= {FRESH_GOAL}x, {small}",
                 f"{fresh / reused:.2f}x ({fresh:.1f} / {reused:.1f} ms)", fresh / reused <= FRESH_GOAL))
    spin = p.get("spin", {}).get("a fresh instance per request")
    if spin:
        rows.append((f"portable under Spin's engine settings, a fresh instance per request / "
                     f"instances reused without epoch checks <= {SPIN_FRESH_GOAL}x, {small}",
                     f"{spin['p50'] / reused:.2f}x ({spin['p50']:.1f} / {reused:.1f} ms)",
                     spin["p50"] / reused <= SPIN_FRESH_GOAL))
    first = p["first_answer"]["pre-initialised"]["compiled cache filled"]["p50"]
    rows.append(("portable first answer after start <= 1 s (pre-initialised, compiled code cached)",
                 f"{first:.0f} ms", first <= 1000))
    return rows


# The build over a v2 server against the native build, the same photo and
# model in the same run: warm end to end reused and with a fresh instance
# per request (as Spin runs it), and requests/s at 4 connections.
KSERVE_GOAL, KSERVE_FRESH_GOAL, KSERVE_RPS_GOAL = 1.3, 1.4, 0.8
FRESH = "a fresh instance per request"


SERVERS = [("kserve", "KServe (kserve/server.py)"), ("host", "wasi-detect-host v2")]


def kserve_targets(r: dict) -> list[tuple[str, str, bool]]:
    k = r.get("kserve")
    if not k:
        return []
    native = k["native"]["e2e"]["p50"]
    native_rps = k["native"]["rps_4"]["rps"]
    rows = []
    for key, server in SERVERS:
        for label, goal in [("instances reused", KSERVE_GOAL), (FRESH, KSERVE_FRESH_GOAL)]:
            e = k[key][label]["e2e"]["p50"]
            rows.append((f"over a v2 server on loopback, {server}, {label}, warm end to end p50 <= "
                         f"{goal}x the native build's, NanoDet",
                         f"{e / native:.2f}x ({e:.1f} / {native:.1f} ms)", e / native <= goal))
        ours = k[key][FRESH]["rps_4"]["rps"]
        rows.append((f"over a v2 server, {server}, requests/s at 4 connections >= {KSERVE_RPS_GOAL}x "
                     "the native build's", f"{ours / native_rps:.2f}x ({ours:.1f} / {native_rps:.1f})",
                     ours / native_rps >= KSERVE_RPS_GOAL))
    return rows


def kserve_section(r: dict) -> list[str]:
    k = r["kserve"]
    small = next(iter(r["images"]))
    lines = ["", "## Over a KServe v2 server (provider-kserve)", "",
             "`dist/wasi-detect-kserve.wasm` (`make kserve`, "
             f"{k['size']:,} bytes): the detector composed with the provider",
             "that sends each inference to a v2 server, served by `wasmtime serve` without",
             "wasi-nn, against a v2 server on loopback on the same machine (the two share",
             "its cores): `kserve/server.py` (PyPI kserve, ONNX Runtime), and",
             "`wasi-detect-host v2` (the host's ONNX Runtime behind the same protocol, no",
             f"Python). NanoDet, the small photo, {small}; the native build measured in the",
             "same section. The server alone: the same binary infer request from Python,",
             "no component. The rows marked Spin are served as Spin serves the build:",
             "Spin's engine settings, a fresh instance per request, no admission gate.", "",
             "| build | p50 | p90 | inference step | copies in and out | load | req/s at 1 | 2 | 4 |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    rows = [("native, ONNX Runtime in the host", k["native"]),
            ("native, " + FRESH + " (no server between)", k["native fresh"])]
    for key, server in SERVERS:
        rows += [(f"over {server}, instances reused", k[key]["instances reused"]),
                 (f"over {server}, " + FRESH + " (Spin)", k[key][FRESH])]
    for label, row in rows:
        e, steps = row["e2e"], row["e2e"]["steps"]
        copies = steps.get("copy-in", 0) + steps.get("copy-out", 0)
        rps = [f"{row[f'rps_{c}']['rps']:.1f}" if f"rps_{c}" in row else "" for c in (1, 2, 4)]
        lines.append(f"| {label} | {ms(e['p50'])} | {ms(e['p90'])} | {ms(steps['inference'])} "
                     f"| {ms(copies)} | {ms(steps['load']) if 'load' in steps else ''} "
                     f"| {' | '.join(rps)} |")
    wire = k["wire"]
    lines.append("")
    for key, server in SERVERS:
        alone = k[key]["server_alone"]
        lines.append(f"{server} alone: p50 {ms(alone['p50'])}, p90 {ms(alone['p90'])}.  ")
    lines += [f"On the wire per request: {wire['request']:,} bytes sent (JSON header and the",
              f"tensor), {wire['answer']:,} received (header and both outputs), binary;",
              "a fresh instance also reads the model's metadata first (`load`).", ""]
    return lines


def portable_section(r: dict) -> list[str]:
    p = r["portable"]
    native = r["native"]["onnx"]["p50"]
    lines = ["", "## The portable build (tract inside, as Spin runs it)", "",
             "`dist/wasi-detect-portable.wasm`: the detector composed with the tract-based",
             f"wasi-nn provider, {p.get('built_in', 'the model')} pre-initialised into it (Wizer), "
             "served by",
             "`wasmtime serve` without wasi-nn. Warm: instances reused, one keep-alive",
             "connection, after warm-up; ratio over ONNX Runtime alone on NanoDet",
             "(natively, above). The other models are read from their folders, parsed and",
             "optimised once per instance.", "",
             "| model | what | n | p50 | p90 | inference (median) | ratio (p50) |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    built_in = p.get("built_in", "built in")
    for image, e in p["e2e"].items():
        lines.append(f"| {built_in} (built in) | end to end, {image} | {e['n']} | {ms(e['p50'])} "
                     f"| {ms(e['p90'])} | {ms(e['steps'].get('inference', float('nan')))} "
                     f"| {e['p50'] / native:.2f} |")
    for model, e in p.get("others", {}).items():
        lines.append(f"| {model} | end to end, {next(iter(p['e2e']))} | {e['n']} | {ms(e['p50'])} "
                     f"| {ms(e['p90'])} | {ms(e['steps'].get('inference', float('nan')))} "
                     f"| {e['p50'] / native:.2f} |")
    small = next(iter(p["e2e"]))
    reused = p["e2e"][small]["p50"]
    lines += ["", f"A fresh instance per request (Spin's way with WASIp2 components; `wasmtime",
              f"serve` without `--max-instance-reuse-count`), {small}:", "",
              "| build | n | p50 | p90 | model load (median) | / instances reused |",
              "| --- | --- | --- | --- | --- | --- |"]
    for label, f in p["fresh"].items():
        lines.append(f"| {label} | {f['n']} | {ms(f['p50'])} | {ms(f['p90'])} "
                     f"| {ms(f['steps'].get('load', 0.0))} | {f['p50'] / reused:.2f}x |")
    nanodet = p.get("nanodet_built_in")
    if nanodet:
        warm = nanodet["instances reused"]
        lines += ["", f"NanoDet built in instead (`make portable MODEL=nanodet`), {small}, against",
                  f"{built_in} built in:", "",
                  "| NanoDet built in | n | p50 | p90 | inference (median) "
                  f"| / instances reused | / {built_in} built in |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        theirs = {"instances reused": reused,
                  "a fresh instance per request": p["fresh"]["pre-initialised"]["p50"]}
        for label, f in nanodet.items():
            lines.append(f"| {label} | {f['n']} | {ms(f['p50'])} | {ms(f['p90'])} "
                         f"| {ms(f['steps'].get('inference', float('nan')))} "
                         f"| {f['p50'] / warm['p50']:.2f}x | {f['p50'] / theirs[label]:.2f}x |")
    if p.get("spin"):
        lines += ["", "Spin's engine settings (epoch interruption, which Spin always turns on, and",
                  "the pooling allocator: `-W timeout=30s -O pooling-allocator=y`), the",
                  f"pre-initialised build, {small}:", "",
                  "| instances | n | p50 | p90 | inference (median) | / reused, no epoch checks |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for label, f in p["spin"].items():
            lines.append(f"| {label} | {f['n']} | {ms(f['p50'])} | {ms(f['p90'])} "
                         f"| {ms(f['steps'].get('inference', float('nan')))} | {f['p50'] / reused:.2f}x |")
    if p.get("spin4"):
        lines += ["", "Spin 4 runs the WASIp3 build (`spin-p3.toml`) reusing each instance, one",
                  "request in it at a time; Spin 3 runs the WASIp2 build with a fresh instance",
                  "per request. Both under Spin's engine settings, no admission gate, "
                  f"{small}: latency over one connection, a request after a pause (a new",
                  "instance), and requests/s with 1, 2 and 4 connections (wrk):", "",
                  "| build | p50 | p90 | after a pause, p50 | req/s, 1 | 2 | 4 | p50 at 4 |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for label, f in p["spin4"].items():
            lat, first = f["latency"], f["first_of_instance"]
            rps = " | ".join(f"{f[f'rps_{c}']['rps']:.1f}" for c in (1, 2, 4))
            lines.append(f"| {label} | {ms(lat['p50'])} | {ms(lat['p90'])} | {ms(first['p50'])} "
                         f"| {rps} | {ms(f['rps_4']['p50_ms'])} |")
    lines += ["", "First answer after the server starts (model load, optimisation and the first",
              "inference included), with wasmtime's cache of compiled code empty (a first",
              "deploy) and filled (every later start; Spin keeps the same cache, on by default):", "",
              "| build | compiled code | n | p50 |", "| --- | --- | --- | --- |"]
    for label, kinds in p["first_answer"].items():
        for kind, v in kinds.items():
            lines.append(f"| {label} | {kind.replace('compiled cache ', '')} | {v['n']} | {ms(v['p50'])} |")
    lines += ["", "Where tract's time goes, one inference on the model's input (per kind of op,",
              "summed over its nodes): in the component (wasm SIMD, one thread) and the same",
              "engine code compiled for this CPU (one thread)."]
    for model, profile in p["profile"].items():
        lines += ["", f"### {model}", "", "In the component:", "", "```", profile["component"],
                  "```", "", "Natively:", "", "```", profile["native"], "```"]
    lines += ["", "| artifact | bytes | gzipped |", "| --- | --- | --- |"]
    for label, size in p["size"].items():
        lines.append(f"| portable, {label} | {size['bytes']:,} | {size['gzip']:,} |")
    return lines


def chart(r: dict) -> str:
    """Horizontal bars: the engine alone and end to end per image, per
    backend, with the Python peer under ours for ONNX Runtime."""
    bars = []
    for backend, nat in r["native"].items():
        bars.append((f"{ENGINES[backend]} alone", nat["p50"], "#888"))
        for image, e in r["e2e"][backend].items():
            bars.append((f"{ENGINES[backend]}, {image}", e["p50"], "#2a6fdb"))
            peer = r.get("peer", {}).get(image) if backend == "onnx" else None
            if peer:
                bars.append((f"Python peer, {image}", peer["p50"], "#e08a1e"))
    width, label_w, row, top = 900, 330, 26, 40
    scale = (width - label_w - 70) / max(v for _, v, _ in bars)
    height = top + row * len(bars) + 30
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="13">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="10" y="22" font-size="15" font-weight="bold">p50 latency, ms '
           f'(grey: the engine alone; blue: end to end through the component; '
           f'orange: the Python peer)</text>']
    for i, (label, value, colour) in enumerate(bars):
        y = top + i * row
        w = max(1.0, value * scale)
        out.append(f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end">{escape(label)}</text>')
        out.append(f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" '
                   f'fill="{colour}"/>')
        out.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 16}">{value:.1f}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


# Private mode: end to end over onnxruntime-web alone on the small photo.
PRIVATE_GOAL = 1.25


def private_runs(r: dict, model: str = "nanodet") -> list[dict]:
    return [run for run in r["private"]["latency"] if run["model"] == model]


def threads_label(threads: int) -> str:
    return f"{threads} thread{'s' if threads > 1 else ''}"


def private_targets(r: dict) -> list[tuple[str, str, bool]]:
    if not r.get("private"):
        return []
    rows = []
    for run in private_runs(r) + private_runs(r, "coco-ssd"):
        small = next(iter(run["e2e"]))
        e, o = run["e2e"][small]["p50"], run["ort"]["p50"]
        rows.append((f"private mode: end to end p50 <= {PRIVATE_GOAL}x onnxruntime-web alone, "
                     f"{small}, {run['model']}, {threads_label(run['threads'])}",
                     f"{e / o:.2f}x ({e:.1f} / {o:.1f} ms)", e / o <= PRIVATE_GOAL))
    return rows


def overhead_parts(run: dict) -> tuple[float, list[tuple[str, float]], float]:
    """Where end to end's time over onnxruntime-web alone goes, small photo:
    the component's steps but inference (medians), what is outside the
    component (p50 less its steps), and the inference step's own distance
    from onnxruntime-web alone's p50."""
    small = next(iter(run["e2e"]))
    e = run["e2e"][small]
    steps = e["steps"]
    get = lambda *names: sum(steps.get(n, 0.0) for n in names)  # noqa: E731
    parts = [
        ("decoding and the resize in the component (body, decode, EXIF, resize, tensor)",
         get("body", "decode", "orient", "resize", "tensor")),
        ("the tensors' copies between the component and JavaScript (copy-in, copy-out)",
         get("copy-in", "copy-out")),
        ("post-processing and JSON", get("postprocess", "json")),
        ("outside the component (the Blob's bytes, the in-memory HTTP request and answer, "
         "jco's glue)", e["p50"] - sum(steps.get(n, 0.0) for n in STEP_NAMES)),
    ]
    return (e["p50"] - run["ort"]["p50"], sorted(parts, key=lambda p: -p[1]),
            get("inference") - run["ort"]["p50"])


def private_section(r: dict) -> list[str]:
    p = r["private"]
    lines = ["", "## Private mode (in the browser)", "",
             "The component itself in the visitor's page: transpiled by jco (JSPI), its",
             f"wasi:nn on onnxruntime-web {p['onnxruntime_web']} (the wasm SIMD and threads build),",
             f"in headless Chromium {p['chromium']} on this machine ({p['cores']} cores), from the",
             "server's own files (`bench/private.py`, `bench/browser.mjs`). onnxruntime-web",
             "alone: the served build and model in a cross-origin isolated page of the server,",
             "default session options (the shim's), on the small photo's input tensor (the",
             "reference letterbox), after warm-up. End to end: `detector.detect(blob)`, the",
             "photo's bytes as a Blob to `/predict`'s JSON, after warm-up. Each thread",
             "setting in its own pages (onnxruntime-web takes it once per page), the two timed",
             "in turns. Ratio: p50 over onnxruntime-web alone's, same model and threads.", "",
             "| model | threads | what | n | p50 | p90 | inference step (median) | ratio (p50) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for run in p["latency"]:
        o = run["ort"]
        head = f"| {run['model']} | {run['threads']} |"
        lines.append(f"{head} onnxruntime-web alone | {o['n']} | {ms(o['p50'])} | {ms(o['p90'])} "
                     f"| | 1.00 |")
        for image, e in run["e2e"].items():
            lines.append(f"{head} end to end, {image} | {e['n']} | {ms(e['p50'])} | {ms(e['p90'])} "
                         f"| {ms(e['steps'].get('inference', float('nan')))} "
                         f"| {e['p50'] / o['p50']:.2f} |")

    runs = private_runs(r)
    lines += ["", "What limits the ratio: both run the same engine with the same session options,",
              "and what end to end adds is work around it that threads do not speed up, so the",
              "faster the engine, the higher the ratio. Small photo:"]
    for run in runs:
        over, parts, inference = overhead_parts(run)
        small = next(iter(run["e2e"]))
        listed = "; ".join(f"{what} {ms(v)}" for what, v in parts)
        side = "above" if inference >= 0 else "below"
        lines += ["", f"- {threads_label(run['threads'])}: {ms(run['e2e'][small]['p50'])} ms against "
                  f"{ms(run['ort']['p50'])}, {ms(over)} ms more: {listed}; and the inference step "
                  f"itself (JSPI, the shim, `session.run`) {ms(abs(inference))} ms {side} "
                  "onnxruntime-web alone's p50."]

    columns = [(run, image) for run in runs for image in run["e2e"]]
    lines += ["", "Where the time goes: medians of the component's steps (`detector.lastTiming`,",
              "its `Server-Timing`), NanoDet.", "",
              "| step | " + " | ".join(f"{threads_label(run['threads'])}, {image}"
                                      for run, image in columns) + " |",
              "| --- |" + " --- |" * len(columns)]
    for step in STEP_NAMES:
        if any(step in run["e2e"][image]["steps"] for run, image in columns):
            cells = [ms(run["e2e"][image]["steps"].get(step, float("nan"))) for run, image in columns]
            lines.append(f"| {STEP_NAMES[step]} | " + " | ".join(cells) + " |")
    inside = [sum(run["e2e"][image]["steps"].get(s, 0.0) for s in STEP_NAMES) for run, image in columns]
    lines.append("| **inside the component** | " + " | ".join(ms(v) for v in inside) + " |")
    lines.append("| outside it (p50 less the steps) | " + " | ".join(
        ms(run["e2e"][image]["p50"] - v) for (run, image), v in zip(columns, inside)) + " |")
    lines.append("| **end to end, p50** | " + " | ".join(
        ms(run["e2e"][image]["p50"]) for run, image in columns) + " |")
    lines.append("| onnxruntime-web alone, p50 | " + " | ".join(
        ms(run["ort"]["p50"]) for run, _ in columns) + " |")

    first, second = p["visits"]
    lines += ["", "First visit, with an empty cache, and the second (the page reloaded in the same",
              f"profile, a disk cache as a visitor's), {threads_label(first['threads'])}:",
              "time from `import()` of `/wasi-detect.js` to `load()` resolved (the model fetched,",
              "its session made and run once), and what came over the network per file (the",
              "bytes received as sent, gzipped where the server has a `.gz`, headers included;",
              "a cache hit is 0, a revalidation a 304).", "",
              "| | first visit | second visit |", "| --- | --- | --- |",
              f"| `import()` to `load()` resolved, ms | {ms(first['ms'])} | {ms(second['ms'])} |",
              f"| of which `import()`, ms | {ms(first['import_ms'])} | {ms(second['import_ms'])} |",
              f"| of which the model's load (`load` step), ms | {ms(first['steps'].get('load', 0.0))} "
              f"| {ms(second['steps'].get('load', 0.0))} |",
              f"| of which its first run (`inference` step), ms | "
              f"{ms(first['steps'].get('inference', 0.0))} | {ms(second['steps'].get('inference', 0.0))} |",
              f"| **bytes over the network** | {first['bytes']:,} | {second['bytes']:,} |"]
    for path in dict.fromkeys(f["path"] for v in (first, second) for f in v["files"]):
        cells = []
        for v in (first, second):
            got = [f for f in v["files"] if f["path"] == path]
            cells.append(", ".join(f"{f['bytes']:,} ({f['status']})" for f in got))
        lines.append(f"| `{path}` | " + " | ".join(cells) + " |")
    return lines
