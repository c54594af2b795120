"""Load the web service with a bounded number of 1-megapixel photo requests on 127.0.0.1.

    .venv/bin/python benchmarks/service_load.py [--requests 40] [--concurrency 4]

Starts the service (full-size models, as in scrub_photo.py) in a subprocess on a free port,
sends the requests from a few client threads and prints throughput, latency percentiles and
the error count, for this tree and each --baseline revision in the same run.
"""

from __future__ import annotations

import argparse
import io
import os
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(port: int, threads: int | None) -> None:
    """The server process: full-size models behind uvicorn."""
    import cv2
    import torch
    import uvicorn

    sys.path.insert(0, str(HERE))
    from scrub_photo import full_size_scrubber

    from infoscrub.service.app import create_app

    if threads:
        torch.set_num_threads(threads)
        cv2.setNumThreads(threads)
    else:  # as `infoscrub serve` does
        try:
            from infoscrub.service import guards as service_guards
        except ImportError:  # older trees kept the guards in service.app
            from infoscrub.service import app as service_guards

        if hasattr(service_guards, "configure_threads"):  # older trees had no such setting
            service_guards.configure_threads(service_guards.ServiceLimits().workers)
    scrubber, source = full_size_scrubber()
    print(f"server: models: {source}; torch threads {torch.get_num_threads()}", flush=True)
    uvicorn.run(create_app(scrubber), host="127.0.0.1", port=port, log_level="warning")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc); None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def one_megapixel_jpeg() -> bytes:
    import cv2
    from PIL import Image
    from skimage import data

    image = cv2.resize(data.astronaut(), (1000, 1000), interpolation=cv2.INTER_CUBIC)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the server exited during start-up")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit("the server did not start in time")


def peak_rss_mb(pid: int) -> float | None:
    """The process's peak resident memory (VmHWM), in MB; None where /proc has no such line."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def load(requests: int, concurrency: int, threads: int | None, env: dict[str, str] | None = None) -> dict:
    """Start a server (this tree's code, or a baseline's through ``env``), load it, stop it."""
    import httpx

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, __file__, "--serve", str(port)]
    if threads:
        command += ["--threads", str(threads)]
    process = subprocess.Popen(command, env=env)
    try:
        wait_until_up(url, process)
        photo = one_megapixel_jpeg()

        def request(_: int) -> tuple[float, int]:
            start = time.perf_counter()
            reply = httpx.post(f"{url}/v1/scrub", timeout=120,
                               files={"photo": ("p.jpg", photo, "image/jpeg")},
                               data={"attributes": "Male,Young", "response": "image"})
            return time.perf_counter() - start, reply.status_code

        request(0)  # warm-up
        cpu_start = cpu_seconds(process.pid)
        start = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            results = list(pool.map(request, range(requests)))
        elapsed = time.perf_counter() - start
        cpu_end = cpu_seconds(process.pid)
        peak = peak_rss_mb(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)
    latencies = sorted(r[0] for r in results)
    return {"rate": len(results) / elapsed, "errors": sum(1 for r in results if r[1] != 200),
            "median": statistics.median(latencies), "p90": latencies[int(0.9 * (len(latencies) - 1))],
            "max": latencies[-1], "photo_kb": len(photo) / 1e3, "peak_mb": peak,
            "cpu": None if cpu_start is None or cpu_end is None else (cpu_end - cpu_start) / len(results)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--threads", type=int, help="server's torch/OpenCV threads")
    parser.add_argument("--baseline", action="append", default=[], metavar="REV",
                        help="also load a server running this git revision's code (repeatable)")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # internal: run server
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.threads)
        return
    from baseline import baseline_env, checkout

    columns = {"this tree": load(args.requests, args.concurrency, args.threads)}
    for rev in args.baseline:
        columns[rev] = load(args.requests, args.concurrency, args.threads, baseline_env(checkout(rev)))
    first = columns["this tree"]
    print(f"{args.requests} requests of a 1000x1000 JPEG ({first['photo_kb']:.0f} kB), {args.concurrency} at a time")
    print(f"{'':<22}" + "".join(f"{n:>14}" for n in columns))
    for key, label, fmt in (("rate", "requests/s", "{:.2f}"), ("errors", "errors", "{:d}"),
                            ("median", "latency median s", "{:.3f}"), ("p90", "latency p90 s", "{:.3f}"),
                            ("cpu", "server CPU/request s", "{:.3f}"), ("peak_mb", "server peak RSS MB", "{:.0f}")):
        print(f"{label:<22}" + "".join(f"{(fmt.format(c[key]) if c[key] is not None else 'n/a'):>14}"
                                       for c in columns.values()))
    for rev in args.baseline:
        print(f"this tree vs {rev}: {first['rate'] / columns[rev]['rate']:.2f}x the requests/s")
    cores = os.cpu_count() or 1
    if first["cpu"]:
        print(f"CPU-bound ceiling on {cores} idle core(s): {cores / first['cpu']:.2f} requests/s "
              f"(wall-clock numbers suffer when other processes share the CPU)")


if __name__ == "__main__":
    main()
