#!/usr/bin/env python3
"""A fault-injecting HTTP/1.1 proxy in front of an S3 server (SeaweedFS in the tests).

It forwards every request to the upstream unchanged (the Host header too, so that SigV4 signatures still match)
and injects the faults that S3 and the networks in front of it really produce, each on every Nth request of its
kind, so that runs are repeatable:

  --slowdown-every N   answer 503 SlowDown without forwarding
  --reset-every N      forward, then reset the client's connection before any response byte
  --cut-get-every N    forward a GET, send the response headers and half its body, then reset
  --cut-put-every N    read half of a PUT or POST body of 1 MiB or more, then reset (nothing is forwarded)
  --latency-ms MS      wait before forwarding each request
  --dead               answer 500 InternalError to everything

One request per connection (responses carry Connection: close). The port it listens on is written to
--port-file once it listens; how many faults of each kind it injected, to --port-file + ".faults" as they happen.
Standard library only.
"""
import argparse
import asyncio
import os
import socket
import struct
import sys

counters = {"all": 0, "get": 0, "put": 0}
injected = {"slowdown": 0, "reset": 0, "cut_get": 0, "cut_put": 0, "dead": 0}
stats_path = None


def record(kind):
    injected[kind] += 1
    if stats_path:
        with open(stats_path + ".new", "w") as f:
            f.write(" ".join(f"{k}={v}" for k, v in injected.items()))
        os.replace(stats_path + ".new", stats_path)


def reset(writer):
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


def error_response(status, reason, code, message):
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
            f"<RequestId>fault-proxy</RequestId></Error>").encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\nContent-Length: {len(body)}\r\n"
            f"Connection: close\r\n\r\n").encode()
    return head + body


async def read_head(reader):
    data = await reader.readuntil(b"\r\n\r\n")
    lines = data.decode("latin-1").split("\r\n")
    headers = []
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
    return lines[0], headers


def header(headers, name):
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


async def copy_exactly(reader, writer, count):
    while count > 0:
        chunk = await reader.read(min(count, 1 << 16))
        if not chunk:
            raise ConnectionError("body ended early")
        writer.write(chunk)
        await writer.drain()
        count -= len(chunk)


async def handle(reader, writer, options):
    try:
        request_line, headers = await read_head(reader)
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        writer.close()
        return
    method = request_line.split(" ")[0]
    length = int(header(headers, "content-length") or 0)
    # This request's numbers, taken before any await: other connections move the counters meanwhile.
    counters["all"] += 1
    number = counters["all"]
    if method == "GET":
        counters["get"] += 1
    get_number = counters["get"]
    if method in ("PUT", "POST") and length >= 1 << 20:
        counters["put"] += 1
    put_number = counters["put"]
    if header(headers, "expect") == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        headers = [(k, v) for k, v in headers if k.lower() != "expect"]

    def every(count, n):
        return n > 0 and count % n == 0

    async def answer(kind, response):
        """Reads the request's body and answers in place of the store."""
        record(kind)
        await reader.readexactly(length)
        writer.write(response)
        await writer.drain()
        writer.close()

    try:
        if options.dead:
            await answer("dead", error_response(500, "Internal Server Error", "InternalError", "fault proxy: the store is dead"))
            return
        if every(number, options.slowdown_every):
            await answer("slowdown", error_response(503, "Slow Down", "SlowDown", "Please reduce your request rate."))
            return
        if method in ("PUT", "POST") and length >= 1 << 20 and every(put_number, options.cut_put_every):
            record("cut_put")
            await reader.readexactly(length // 2)
            reset(writer)
            return
        if options.latency_ms:
            await asyncio.sleep(options.latency_ms / 1000)
        up_reader, up_writer = await asyncio.open_connection(options.upstream_host, options.upstream_port)
        forwarded = [(k, v) for k, v in headers if k.lower() != "connection"] + [("Connection", "close")]
        up_writer.write((request_line + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in forwarded) + "\r\n").encode("latin-1"))
        await copy_exactly(reader, up_writer, length)
        status_line, response_headers = await read_head(up_reader)
        if every(number, options.reset_every):
            record("reset")
            up_writer.close()
            reset(writer)
            return
        response_length = header(response_headers, "content-length")
        status = status_line.split(" ")[1] if " " in status_line else ""
        cut = (method == "GET" and status in ("200", "206") and response_length is not None and int(response_length) > 1
               and every(get_number, options.cut_get_every))
        # Answers without a body whatever their Content-Length says.
        bodyless = method == "HEAD" or status.startswith("1") or status in ("204", "304")
        kept = [(k, v) for k, v in response_headers if k.lower() != "connection"] + [("Connection", "close")]
        writer.write((status_line + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in kept) + "\r\n").encode("latin-1"))
        if cut:
            record("cut_get")
            await copy_exactly(up_reader, writer, int(response_length) // 2)
            up_writer.close()
            reset(writer)
            return
        if bodyless:
            pass
        elif response_length is not None:
            await copy_exactly(up_reader, writer, int(response_length))
        else:
            while True:
                chunk = await up_reader.read(1 << 16)
                if not chunk:
                    break
                writer.write(chunk)
                await writer.drain()
        up_writer.close()
        await writer.drain()
        writer.close()
    except (ConnectionError, asyncio.IncompleteReadError, OSError):
        reset(writer)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", required=True, help="host:port")
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--slowdown-every", type=int, default=0)
    parser.add_argument("--reset-every", type=int, default=0)
    parser.add_argument("--cut-get-every", type=int, default=0)
    parser.add_argument("--cut-put-every", type=int, default=0)
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--dead", action="store_true")
    options = parser.parse_args()
    global stats_path
    stats_path = options.port_file + ".faults"
    options.upstream_host, _, port = options.upstream.rpartition(":")
    options.upstream_port = int(port)
    server = await asyncio.start_server(lambda r, w: handle(r, w, options), "127.0.0.1", 0, limit=1 << 20)
    with open(options.port_file + ".new", "w") as f:
        f.write(str(server.sockets[0].getsockname()[1]))
    os.rename(options.port_file + ".new", options.port_file)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
