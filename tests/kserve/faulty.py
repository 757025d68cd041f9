"""A proxy in front of a v2 server that misbehaves on demand (tests/kserve.rs).

    python tests/kserve/faulty.py <port> <upstream port> <record dir>

Reads a mode per line on stdin and answers "ok <mode>" on stdout once it
applies to the next request:

    pass      forward as it is
    slow      forward after 3 s
    error     answer 500 with a v2 error, {"error": ...}
    garbage   answer 200 with an HTML page
    truncate  forward, but close after half of the answer's body
    oversize  answer 200 saying content-length 1 GB, then close
    shape     forward an infer answer with its first output's dimensions
              reversed (the same bytes, another shape than the metadata's)
    reset     close the connection without an answer
    down      stop listening (connections are refused)
    up        listen again
    record    forward, and write the last infer request and its answer to
              <record dir>/request.bin and answer.bin (with their
              inference-header-content-length in *.length)
"""

import asyncio
import json
import os
import sys
import threading

PORT, UPSTREAM, RECORD = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
state = {"mode": "pass", "server": None}


def split_head(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return lines[0], headers, body


def answer(status, reason, headers, body):
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def forward(request_head, headers, body):
    reader, writer = await asyncio.open_connection("127.0.0.1", UPSTREAM)
    lines = [l for l in request_head.split("\r\n") if not l.lower().startswith("connection:")]
    writer.write(("\r\n".join(lines) + "\r\nconnection: close\r\n\r\n").encode("latin-1") + body)
    await writer.drain()
    raw = await reader.read()
    writer.close()
    status, headers, body = split_head(raw)
    if headers.pop("transfer-encoding", "") == "chunked":
        body = dechunk(body)
    return status, headers, body


def dechunk(data):
    body = b""
    while True:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return body
        body, data = body + data[:size], data[size + 2 :]


async def handle(reader, writer):
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, headers, _ = split_head(head)
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        mode = state["mode"]
        if mode == "reset":
            return
        if mode == "error":
            writer.write(answer(500, "Internal Server Error", {"content-type": "application/json", "content-length": 41, "connection": "close"}, b'{"error":"the model failed (test proxy)"}'))
            return
        if mode == "garbage":
            page = b"<html><body>502 Bad Gateway</body></html>"
            writer.write(answer(200, "OK", {"content-type": "text/html", "content-length": len(page), "connection": "close"}, page))
            return
        if mode == "oversize":
            writer.write(answer(200, "OK", {"content-type": "application/octet-stream", "content-length": 1 << 30, "connection": "close"}, b"{"))
            return
        if mode == "slow":
            await asyncio.sleep(3)
        status_line, answer_headers, answer_body = await forward(head.decode("latin-1").split("\r\n\r\n")[0], headers, body)
        infer = request_line.split(" ")[1].endswith("/infer")
        if mode == "record" and infer:
            for name, data, length in [("request", body, headers.get("inference-header-content-length")),
                                       ("answer", answer_body, answer_headers.get("inference-header-content-length"))]:
                with open(os.path.join(RECORD, name + ".bin"), "wb") as f:
                    f.write(data)
                with open(os.path.join(RECORD, name + ".length"), "w") as f:
                    f.write(length or "")
        if mode == "shape" and infer:
            length = int(answer_headers["inference-header-content-length"])
            header = json.loads(answer_body[:length])
            header["outputs"][0]["shape"].reverse()
            new = json.dumps(header).encode()
            answer_body = new + answer_body[length:]
            answer_headers["inference-header-content-length"] = str(len(new))
        answer_headers["content-length"] = str(len(answer_body))
        answer_headers["connection"] = "close"
        status = status_line.split(" ", 2)
        if mode == "truncate":
            writer.write(answer(status[1], status[2], answer_headers, answer_body[: len(answer_body) // 2]))
            return
        writer.write(answer(status[1], status[2], answer_headers, answer_body))
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        try:
            await writer.drain()
        except ConnectionError:
            pass
        writer.close()


async def listen():
    state["server"] = await asyncio.start_server(handle, "127.0.0.1", PORT, reuse_address=True)


async def set_mode(mode):
    if mode == "down" and state["server"]:
        state["server"].close()
        await state["server"].wait_closed()
        state["server"] = None
    elif mode == "up" and not state["server"]:
        await listen()
    else:
        state["mode"] = mode
    print("ok", mode, flush=True)


def read_modes(loop):
    for line in sys.stdin:
        asyncio.run_coroutine_threadsafe(set_mode(line.strip()), loop)
    loop.call_soon_threadsafe(loop.stop)


def main():
    loop = asyncio.new_event_loop()
    loop.run_until_complete(listen())
    print("ok listening", flush=True)
    threading.Thread(target=read_modes, args=(loop,), daemon=True).start()
    loop.run_forever()


if __name__ == "__main__":
    main()
