#!/usr/bin/env python3
"""Measures what idle keep-alive connections cost a server in resident memory.

Opens COUNT connections to 127.0.0.1:PORT, sends one request on each and reads its whole answer, then
keeps every connection open and idle, and reads the resident memory (VmRSS, summed over the given
process ids) before the first connection and after the last answer. Prints one JSON object.

    bench/idle_connections.py --port 18303 --count 1000 --pid 1234 \
        --path /webhooks/drivewidget --body body-1024 --header "X-DriveWidget-Signature: sha256=..."

Several --pid options sum the processes (nginx's master and workers). Several --count options measure
at each count in turn, keeping the earlier connections open: --count 1000 --count 10000 reads RSS with
1,000 and then with 10,000 connections open; "steps" in the output holds each. Raises its own open-file
limit to the hard limit; the server's limit must allow COUNT connections too.
"""
import argparse
import asyncio
import json
import resource
import sys
import time


def rss_kib(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def request_bytes(args):
    body = open(args.body, "rb").read() if args.body else b""
    lines = [f"{args.method} {args.path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    lines += ["Content-Type: application/json"] if body else []
    lines += args.header
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_answer(reader):
    """Reads one response with a Content-Length body; returns its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length:
        await reader.readexactly(length)
    return status


async def open_one(port, request, held, statuses):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    statuses.append(await read_answer(reader))
    held.append((reader, writer))


async def main(args):
    request = request_bytes(args)
    counts = sorted(set(args.count))
    before = rss_kib(args.pid)
    held, statuses, steps = [], [], []
    started = time.monotonic()
    for count in counts:
        # In batches, so the server's accept queue (1024 here) never overflows.
        for first in range(len(held), count, args.batch):
            batch = range(first, min(first + args.batch, count))
            await asyncio.gather(*(open_one(args.port, request, held, statuses) for _ in batch))
        # Let the servers finish what they do after an answer (freeing request state, returning
        # connections to the app to their pools) before reading their memory.
        await asyncio.sleep(args.settle)
        rss = rss_kib(args.pid)
        steps.append({"count": count, "rss_kib": rss, "still_open": sum(1 for reader, _ in held if not reader.at_eof()),
                      "bytes_per_connection": round((rss - before) * 1024 / count) if count else 0})
    opened = time.monotonic() - started
    after = steps[-1]["rss_kib"]
    still_open = steps[-1]["still_open"]
    for _, writer in held:
        writer.close()
    ok = sum(1 for status in statuses if 200 <= status < 300)
    count = counts[-1]
    print(json.dumps({
        "count": count,
        "answered_2xx": ok,
        "still_open": still_open,
        "rss_before_kib": before,
        "rss_after_kib": after,
        "bytes_per_connection": steps[-1]["bytes_per_connection"],
        "open_seconds": round(opened, 2),
        "steps": steps,
    }))
    return 0 if ok == count and still_open == count else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, action="append", required=True)
    parser.add_argument("--pid", type=int, action="append", required=True)
    parser.add_argument("--path", default="/")
    parser.add_argument("--method", default="POST")
    parser.add_argument("--body")
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--settle", type=float, default=2.0)
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    sys.exit(asyncio.run(main(args)))
