"""Load the web service with a bounded number of 1-megapixel photo requests on 127.0.0.1.

    .venv/bin/python benchmarks/service_load.py [--requests 40] [--concurrency 4]

Starts the service (full-size models, as in scrub_photo.py) in a subprocess on a free port,
sends the requests from a few client threads and prints throughput, latency percentiles and
the error count. Target: >= 5 requests/s and no errors.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--threads", type=int, help="server's torch/OpenCV threads")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # internal: run server
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.threads)
        return

    import httpx

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, __file__, "--serve", str(port)]
    if args.threads:
        command += ["--threads", str(args.threads)]
    process = subprocess.Popen(command)
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
        with ThreadPoolExecutor(args.concurrency) as pool:
            results = list(pool.map(request, range(args.requests)))
        elapsed = time.perf_counter() - start
        cpu_end = cpu_seconds(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)
    latencies = sorted(r[0] for r in results)
    errors = sum(1 for r in results if r[1] != 200)
    rate = len(results) / elapsed
    print(f"{len(results)} requests of a 1000x1000 JPEG ({len(photo) / 1e3:.0f} kB), "
          f"{args.concurrency} at a time: {rate:.2f} requests/s, errors {errors}")
    print(f"latency s: median {statistics.median(latencies):.3f}, "
          f"p90 {latencies[int(0.9 * (len(latencies) - 1))]:.3f}, max {latencies[-1]:.3f}")
    if cpu_start is not None and cpu_end is not None:
        per_request = (cpu_end - cpu_start) / len(results)
        cores = os.cpu_count() or 1
        print(f"server CPU per request: {per_request:.3f} s; CPU-bound ceiling on {cores} idle "
              f"core(s): {cores / per_request:.2f} requests/s (wall-clock numbers above "
              f"suffer when other processes share the CPU)")
    verdict = "met" if rate >= 5 and not errors else "missed"
    print(f"target >= 5 requests/s with no errors: {verdict}")


if __name__ == "__main__":
    main()
