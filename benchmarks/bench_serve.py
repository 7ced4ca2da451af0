"""Overhead and concurrency of the ``openai`` adapter talking to ``timelens-eval serve``.

Starts ``timelens-eval serve --adapter mock --adapter-args latency=L`` in its own
process on 127.0.0.1, then sends N grounding requests (F frames of S x S pixels each,
JPEG) through the ``openai`` adapter with C requests in flight, and reports:

* the round trip per request at C=1 with L=0 (encode frames, HTTP, decode frames,
  answer), and
* the throughput at concurrency C with latency L, against the ideal C / L.

    python benchmarks/bench_serve.py --requests 200 --frames 8 --size 224 \
        --latency 0.2 --concurrency 16
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time

import numpy as np

from timelens_eval.adapters import GroundingRequest
from timelens_eval.adapters.openai_chat import OpenAIAdapter
from timelens_eval.messages import ImagePart, PromptMessage, TextPart


def _frame(i: int, k: int, size: int) -> np.ndarray:
    """A smooth synthetic frame (video-like, so JPEG sizes are realistic)."""
    y, x = np.mgrid[0:size, 0:size]
    shift = 7 * i + 5 * k
    return np.stack([(x + shift) % 256, (2 * y) % 256, ((x + y) // 2 + shift) % 256], -1).astype(
        np.uint8
    )


def _request(i: int, frames: int, size: int) -> GroundingRequest:
    parts: list = []
    for k in range(frames):
        parts += [TextPart(f"{0.5 * k:.1f}s"), ImagePart(_frame(i, k, size), 0.5 * k, k)]
    parts.append(TextPart("Find 'a person opens a door'."))
    message = PromptMessage(tuple(parts), "timelens", "-", "interleaved")
    return GroundingRequest(f"s{i}", "a person opens a door", 0.5 * frames, None, message)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Server:
    def __init__(self, latency: float) -> None:
        self.port = _free_port()
        command = [
            sys.executable,
            "-m",
            "timelens_eval",
            "serve",
            "--adapter",
            "mock",
            "--adapter-args",
            f"latency={latency}",
            "--port",
            str(self.port),
        ]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def __enter__(self) -> str:
        import httpx

        url = f"http://127.0.0.1:{self.port}/v1"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(url + "/models", timeout=1)
                return url
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("server did not start")

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far."""
        fields = open(f"/proc/{self.process.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=15)


async def _drive(url: str, requests: list[GroundingRequest], concurrency: int) -> list[float]:
    adapter = OpenAIAdapter(model="mock", base_url=url, send_metadata=True, max_retries=0)
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one(request: GroundingRequest) -> None:
        async with gate:
            started = time.perf_counter()
            await adapter.ground(request)
            latencies.append(time.perf_counter() - started)

    try:
        await asyncio.gather(*(one(r) for r in requests))
    finally:
        await adapter.aclose()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    os.environ.setdefault("OPENAI_API_KEY", "unused")
    requests = [_request(i, args.frames, args.size) for i in range(args.requests)]

    with _Server(0.0) as url:
        asyncio.run(_drive(url, requests[:10], 1))  # warm up
        latencies = asyncio.run(_drive(url, requests, 1))
    median = statistics.median(latencies) * 1000
    p90 = sorted(latencies)[int(0.9 * len(latencies))] * 1000
    print(
        f"round trip, C=1, L=0, {args.frames} frames {args.size}px: "
        f"median {median:.1f} ms, p90 {p90:.1f} ms"
    )

    ideal = args.concurrency / args.latency
    server = _Server(args.latency)
    with server as url:
        for frames in (0, args.frames):
            batch = [_request(i, frames, args.size) for i in range(args.requests)]
            asyncio.run(_drive(url, batch[:10], args.concurrency))
            started, cpu, served = time.perf_counter(), time.process_time(), server.cpu_seconds()
            asyncio.run(_drive(url, batch, args.concurrency))
            rate = args.requests / (time.perf_counter() - started)
            client_ms = 1000 * (time.process_time() - cpu) / args.requests
            server_ms = 1000 * (server.cpu_seconds() - served) / args.requests
            print(
                f"throughput, {frames} frames, C={args.concurrency}, L={args.latency}s: "
                f"{rate:.1f} req/s ({100 * rate / ideal:.0f}% of C/L = {ideal:.0f} req/s); "
                f"CPU per request: client {client_ms:.1f} ms, server {server_ms:.1f} ms"
            )


if __name__ == "__main__":
    main()
