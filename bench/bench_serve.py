"""Benchmark the drum machine (``drumrnn serve``) on loopback.

* the server's start: ``drumrnn serve`` from a cold interpreter until it answers, with the
  drum sounds rendered (empty cache) and read from the cache;
* ``POST /api/generate`` of 8 bars, one request at a time, the server pinned to one core
  (median and p99), next to the same generation called in-process (what HTTP and JSON add);
* the page in Chromium: from navigation until the grid and controls are ready, and until
  the drum sounds are decoded;
* 20 concurrent clients x 50 requests of 8 bars each: errors, throughput, latencies.

Targets: 8 bars through the API under 30 ms median, 100 ms p99 on one core; the page
interactive within 1 s; no error under load.

Run: ``python bench/bench_serve.py [--requests N] [--core C]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[name] = "1"

import httpx
from common import machine, write_section

from drumrnn.generation.generate import DrumGenerator
from drumrnn.serve.machine import DrumMachine, Settings

BARS = 8
CHROMIUM = os.environ.get("DRUMRNN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--mute-audio"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def start_server(port: int, cache: Path, core: int | None) -> tuple[subprocess.Popen, float]:
    """``drumrnn serve`` in a fresh interpreter (pinned to ``core``); (process, seconds until
    it answered ``/api/info``)."""
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    cmd = [sys.executable, "-m", "drumrnn", "serve", "--port", str(port)]
    if core is not None and shutil.which("taskset"):
        cmd = ["taskset", "-c", str(core)] + cmd
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while True:
        if proc.poll() is not None:
            sys.exit(f"drumrnn serve failed:\n{proc.stderr.read().decode()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/info", timeout=1).status_code == 200:
                return proc, time.perf_counter() - started
        except httpx.TransportError:
            time.sleep(0.02)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=10)


def side_by_side(url: str, requests: int, core: int | None) -> tuple[list[float], list[float]]:
    """(API seconds, in-process seconds) of the same generations, alternating, the
    in-process one run on the server's core while the server waits."""
    machine_ = DrumMachine(DrumGenerator.load())
    mine = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    api, direct = [], []
    with httpx.Client(base_url=url) as client:
        for i in range(requests + 5):
            started = time.perf_counter()
            client.post("/api/generate", json={"bars": BARS, "seed": i}).raise_for_status()
            api.append(time.perf_counter() - started)
            if mine is not None and core is not None:
                os.sched_setaffinity(0, {core})
            started = time.perf_counter()
            machine_.generate(Settings(seed=i), BARS).grid.to_dict()
            direct.append(time.perf_counter() - started)
            if mine is not None and core is not None:
                os.sched_setaffinity(0, mine)
    return api[5:], direct[5:]  # warm-up


def round_trips(url: str, requests: int) -> list[float]:
    """Seconds of ``GET /api/info``: the HTTP round trip with next to no work."""
    times = []
    with httpx.Client(base_url=url) as client:
        for _ in range(requests + 5):
            started = time.perf_counter()
            client.get("/api/info").raise_for_status()
            times.append(time.perf_counter() - started)
    return times[5:]


def concurrent(url: str, clients: int, per_client: int) -> tuple[list[float], int, float]:
    """(latencies, errors, seconds) of ``clients`` threads sending ``per_client`` requests."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    gate = threading.Barrier(clients + 1)

    def client_thread(index: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            gate.wait()
            for i in range(per_client):
                started = time.perf_counter()
                try:
                    ok = client.post("/api/generate",
                                     json={"bars": BARS, "seed": index * 1000 + i}).status_code
                except httpx.HTTPError:
                    ok = 0
                with lock:
                    latencies.append(time.perf_counter() - started)
                    errors[0] += ok != 200

    threads = [threading.Thread(target=client_thread, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    gate.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    return latencies, errors[0], time.perf_counter() - started


def page_timings(url: str, loads: int) -> tuple[list[float], list[float]] | None:
    """(ms until interactive, ms until the sounds are decoded) of ``loads`` fresh page loads;
    None without Playwright or Chromium."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not Path(CHROMIUM).is_file():
        return None
    ready, sounds = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for _ in range(loads + 1):
            context = browser.new_context()  # a fresh cache every time
            page = context.new_page()
            page.goto(url)
            page.wait_for_function("window.__drumrnn && window.__drumrnn.soundsLoaded")
            ready.append(page.evaluate("window.__drumrnn.readyMs"))
            sounds.append(page.evaluate("window.__drumrnn.soundsMs"))
            context.close()
        browser.close()
    return ready[1:], sounds[1:]  # the first load warms the browser


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="sequential requests")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--per-client", type=int, default=50)
    parser.add_argument("--loads", type=int, default=10, help="page loads")
    parser.add_argument("--core", type=int, default=0, help="the server's CPU core")
    args = parser.parse_args()
    others = set(range(os.cpu_count() or 1)) - {args.core}
    if others and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, others)  # the clients stay off the server's core

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as cache:
        port = free_port()
        proc, cold = start_server(port, Path(cache), args.core)
        stop(proc)
        proc, warm = start_server(port, Path(cache), args.core)
        url = f"http://127.0.0.1:{port}"
        try:
            seq, direct = side_by_side(url, args.requests, args.core)
            trips = round_trips(url, args.requests)
            page = page_timings(url + "/", args.loads)
            latencies, errors, seconds = concurrent(url, args.clients, args.per_client)
        finally:
            stop(proc)

    total = args.clients * args.per_client
    ms = lambda s: f"{s * 1e3:.1f}"  # noqa: E731
    seq_med, seq_p99 = statistics.median(seq), percentile(seq, 99)
    lines = [
        "## Drum machine in the browser (bench/bench_serve.py)", "",
        f"Reproduce: `python bench/bench_serve.py --requests {args.requests}` (the bundled model; "
        f"the server is `drumrnn serve` pinned to core {args.core} with one BLAS thread, the "
        "clients run in the benchmark's process; loopback HTTP/1.1 with keep-alive). "
        f"The machine was shared with other jobs while measuring (1-minute load average "
        f"{load_before:.1f} before and {os.getloadavg()[0]:.1f} after, on "
        f"{os.cpu_count()} cores): figures are medians of a loaded machine, and p99s carry "
        "that load.", "",
        f"Machine: {machine('numpy', 'fastapi', 'uvicorn', 'httpx', 'playwright')}", "",
        "| measure | median | p99 | target |", "|---|---|---|---|",
        f"| `POST /api/generate`, {BARS} bars, one at a time ({args.requests} requests) | "
        f"{ms(seq_med)} ms | {ms(seq_p99)} ms | < 30 ms median "
        f"({'met' if seq_med < 0.030 else 'not met'}), < 100 ms p99 "
        f"({'met' if seq_p99 < 0.100 else 'not met'}) |",
        f"| the same generations in-process on the same core, alternating with the requests "
        f"(`DrumMachine.generate` + grid JSON) | {ms(statistics.median(direct))} ms | "
        f"{ms(percentile(direct, 99))} ms | |",
        f"| `GET /api/info` (the HTTP round trip with next to no work) | "
        f"{ms(statistics.median(trips))} ms | {ms(percentile(trips, 99))} ms | |",
    ]
    if page is not None:
        ready, sounds = page
        lines.append(f"| page interactive (grid and controls ready), from navigation, "
                     f"{args.loads} fresh loads | {statistics.median(ready):.0f} ms | "
                     f"{max(ready):.0f} ms (max) | < 1000 ms "
                     f"({'met' if statistics.median(ready) < 1000 else 'not met'}) |")
        lines.append(f"| drum sounds fetched and decoded (27 one-shots) | "
                     f"{statistics.median(sounds):.0f} ms | {max(sounds):.0f} ms (max) | |")
    else:
        lines.append("| page interactive | not measured (no Playwright or Chromium) | | |")
    lines += [
        f"| `drumrnn serve` start until it answers, sounds rendered (empty cache) | "
        f"{cold:.2f} s | | |",
        f"| `drumrnn serve` start until it answers, sounds from the cache | {warm:.2f} s | | |",
        "",
        f"HTTP, validation and JSON add {ms(seq_med - statistics.median(direct))} ms to the "
        f"median ({seq_med / statistics.median(direct):.2f}x the in-process time, measured "
        "side by side).",
        "",
        f"Under load: {args.clients} concurrent clients x {args.per_client} requests "
        f"({total} generations of {BARS} bars): {errors} errors, {total / seconds:.0f} "
        f"requests/s, latency median {ms(statistics.median(latencies))} ms, p99 "
        f"{ms(percentile(latencies, 99))} ms, max {ms(max(latencies))} ms (one server core: "
        "requests queue, so the latency is the queue's).",
    ]
    section = "\n".join(lines)
    print(section)
    write_section("bench_serve", section)


if __name__ == "__main__":
    main()
