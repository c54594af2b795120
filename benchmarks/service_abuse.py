"""Hostile clients against the web service on 127.0.0.1: memory under junk uploads, and how
long stalled uploads keep their sockets.

    .venv/bin/python benchmarks/service_abuse.py [--uploads 20] [--upload-mb 20] [--stalled 30]
    .venv/bin/python benchmarks/service_abuse.py --app /tmp/old_app.py   # another app.py

Starts the service (production-size models, untrained unless bundled weights are installed,
as in service_load.py; uvicorn configured as ``infoscrub serve`` does) in a subprocess, then
(a) sends concurrent junk multipart uploads and prints the server's RSS before and its peak
RSS during the burst (Linux /proc: VmRSS, VmHWM; the peak is reset first where the kernel
allows), (b) opens stalled uploads (headers and part of the body, then nothing) and prints
how long until the server closed each, and (c) does the same for connections that stall
inside their headers, which the service itself cannot see (uvicorn's business).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
BOUNDARY = "abuse-boundary"


def serve(port: int, app_file: str | None) -> None:
    """The server process."""
    import uvicorn

    sys.path.insert(0, str(HERE))
    from scrub_photo import full_size_scrubber

    from infoscrub.cli.serve_cmd import KEEP_ALIVE_S

    if app_file:  # e.g. an older app.py, for a before/after comparison
        spec = importlib.util.spec_from_file_location("service_app_under_test", app_file)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
        create_app = module.create_app
    else:
        from infoscrub.service.app import create_app
    scrubber, source = full_size_scrubber()
    print(f"server: models: {source}; app: {app_file or 'installed'}", flush=True)
    uvicorn.run(create_app(scrubber), host="127.0.0.1", port=port, log_level="warning",
                timeout_keep_alive=KEEP_ALIVE_S)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def proc_status(pid: int, field: str) -> int:
    """A /proc/PID/status field in bytes (VmRSS: resident now; VmHWM: its peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def reset_peak(pid: int) -> bool:
    """Set VmHWM back to VmRSS (Linux 4.0+, our own process)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def wait_until_up(port: int, process: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the server exited during start-up")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             b"Connection: close\r\n\r\n")
                if sock.recv(100).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit("the server did not start in time")


def request_head(length: int) -> bytes:
    return (f"POST /v1/scrub HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {length}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n\r\n").encode()


def junk_form(size: int) -> bytes:
    start = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="attributes"\r\n\r\n'
             f'Male\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name="photo"; '
             f'filename="junk.jpg"\r\nContent-Type: image/jpeg\r\n\r\n').encode()
    return start + os.urandom(size) + f"\r\n--{BOUNDARY}--\r\n".encode()


def junk_burst(port: int, pid: int, uploads: int, size: int) -> None:
    body = junk_form(size)
    head = request_head(len(body))

    def upload(_: int) -> str:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
                sock.sendall(head)
                sock.sendall(body)
                return sock.recv(200).split(b"\r\n", 1)[0].decode(errors="replace")[9:]
        except OSError as exc:
            return type(exc).__name__

    rss_before = proc_status(pid, "VmRSS")
    reset = reset_peak(pid)
    hwm_before = proc_status(pid, "VmHWM")
    start = time.perf_counter()
    with ThreadPoolExecutor(uploads) as pool:
        statuses = list(pool.map(upload, range(uploads)))
    elapsed = time.perf_counter() - start
    time.sleep(1)
    counts = {s: statuses.count(s) for s in sorted(set(statuses))}
    mb = 2**20
    print(f"(a) {uploads} concurrent junk uploads of {size / mb:.0f} MB: {elapsed:.1f} s, "
          f"answers {counts}")
    print(f"    server RSS before {rss_before / mb:.0f} MB (peak so far "
          f"{hwm_before / mb:.0f} MB{', reset' if reset else ', not resettable'}); "
          f"peak during the burst {proc_status(pid, 'VmHWM') / mb:.0f} MB; "
          f"RSS after {proc_status(pid, 'VmRSS') / mb:.0f} MB")


def time_to_close(port: int, first_bytes: bytes, cap: float) -> tuple[float, str]:
    """Send ``first_bytes``, then nothing; seconds until the server closes (or ``cap``)."""
    with socket.create_connection(("127.0.0.1", port), timeout=cap) as sock:
        sock.sendall(first_bytes)
        start = time.monotonic()
        reply = b""
        try:
            while chunk := sock.recv(4096):
                reply += chunk
        except TimeoutError:
            return cap, "still open"
        except OSError as exc:
            return time.monotonic() - start, type(exc).__name__
        status = reply.split(b"\r\n", 1)[0].decode(errors="replace")[9:] or "no answer"
        return time.monotonic() - start, status


def stall(port: int, count: int, first_bytes: bytes, cap: float, label: str) -> None:
    with ThreadPoolExecutor(count) as pool:
        results = list(pool.map(lambda _: time_to_close(port, first_bytes, cap), range(count)))
    times = sorted(r[0] for r in results)
    answers = {a: [r[1] for r in results].count(a) for a in sorted({r[1] for r in results})}
    print(f"{label}: closed after min {times[0]:.1f} s, median {statistics.median(times):.1f} s,"
          f" max {times[-1]:.1f} s (waited at most {cap:.0f} s); answers {answers}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=20)
    parser.add_argument("--upload-mb", type=float, default=20.0)
    parser.add_argument("--stalled", type=int, default=30)
    parser.add_argument("--cap", type=float, default=30.0, help="longest wait for a close (s)")
    parser.add_argument("--app", help="serve create_app from this app.py instead")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # internal: run server
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.app)
        return

    port = free_port()
    command = [sys.executable, __file__, "--serve", str(port)]
    if args.app:
        command += ["--app", args.app]
    process = subprocess.Popen(command)
    try:
        wait_until_up(port, process)
        junk_burst(port, process.pid, args.uploads, int(args.upload_mb * 2**20))
        partial = request_head(20 * 2**20) + f"--{BOUNDARY}\r\n".encode() + bytes(64 * 1024)
        stall(port, args.stalled, partial, args.cap,
              f"(b) {args.stalled} stalled uploads (headers + 64 kB of a 20 MB body)")
        stall(port, args.stalled, b"POST /v1/scrub HTTP/1.1\r\nHost: 127.0.0.1\r\n",
              min(args.cap, 15.0), f"(c) {args.stalled} connections stalled inside headers")
    finally:
        process.terminate()
        process.wait(timeout=30)


if __name__ == "__main__":
    main()
