"""Benchmark-style fuzzing: many thousands of seeded mutants through every input path
(photo decoding and writing, the scrub path, weights loading, the service's upload
parsing); prints cases/s, the slowest case, the process's peak memory and every failure.

    .venv/bin/python benchmarks/fuzz.py --cases 20000            # spread over the targets
    .venv/bin/python benchmarks/fuzz.py --cases 5000 --targets photo --seed 7

The mutator and the properties are in tests/fuzzing.py (the CI suite runs a few hundred).
Exits 1 when a case failed, so it can gate a release.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from conftest_faces import make_scrubber  # noqa: E402
from fuzzing import (ScrubTarget, ServiceTarget, WeightsTarget, cases, face_seeds, run_case,  # noqa: E402
                     seed_files, service_client)

# Shares of --cases per target (decoding is cheap and where most hostile bytes land).
SHARES = {"photo": 0.6, "scrub": 0.15, "weights": 0.1, "service": 0.15}


def peak_rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def weights_seeds(folder: Path) -> dict[str, bytes]:
    from infoscrub.inference import Editor
    from infoscrub.storage.weights import save_weights
    from infoscrub.storage.checkpoints import save_checkpoint

    editor = Editor.untrained(["Male", "Smiling"], image_size=32, width=8)
    info = {"kind": "stage2", "config": dict(editor.info["config"]), "attributes": editor.attributes,
            "alignment": "celebahq", "image_size": 32, "step": 1}
    save_weights(folder / "editor.safetensors", {"generator": editor.generator.state_dict(),
                                                 "mixer": editor.mixer.state_dict()}, info)
    save_checkpoint(folder / "editor.pt", kind="stage2", config=info["config"], attributes=info["attributes"],
                    alignment="celebahq", image_size=32, step=1,
                    models={"generator": editor.generator, "mixer": editor.mixer})
    return {s: (folder / f"editor{s}").read_bytes() for s in (".safetensors", ".pt")}


def main() -> int:
    parser = argparse.ArgumentParser(description="fuzz every input path")
    parser.add_argument("--cases", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--targets", default=",".join(SHARES), help="comma-separated: " + ", ".join(SHARES))
    parser.add_argument("--show", type=int, default=20, help="failures to print")
    args = parser.parse_args()
    from infoscrub.editors import load_editor

    photos = seed_files()
    chosen = [t for t in args.targets.split(",") if t]
    unknown = set(chosen) - set(SHARES)
    if unknown:
        parser.error(f"unknown targets {', '.join(sorted(unknown))}")
    share_sum = sum(SHARES[t] for t in chosen)
    total_failures = 0
    start_all = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        weights = weights_seeds(Path(folder))
        for name in chosen:
            count = max(1, round(args.cases * SHARES[name] / share_sum))
            if name == "photo":
                from fuzzing import photo_target

                plan = [(photo_target, n, d) for n, d in cases(photos, count, args.seed)]
            elif name == "scrub":
                target = ScrubTarget(make_scrubber())
                plan = [(target, n, d) for n, d in cases(face_seeds(), count, args.seed + 1)]
            elif name == "weights":
                plan = []
                for i, suffix in enumerate((".safetensors", ".pt")):
                    target = WeightsTarget(load_editor, suffix)
                    plan += [(target, n, d) for n, d in cases({suffix: weights[suffix]}, count // 2, args.seed + 2 + i)]
            else:
                from infoscrub.service.app import create_app

                service = ServiceTarget(service_client(create_app(make_scrubber())))  # past the Host check
                rng = random.Random(args.seed + 4)

                def target(data: bytes, service=service, rng=rng) -> str | None:
                    return service(data, rng)
                plan = [(target, n, d) for n, d in cases(photos, count, args.seed + 4)]
            failed: list[str] = []
            slowest = (0.0, "")
            start = time.perf_counter()
            for fn, seed_name, data in plan:
                t0 = time.perf_counter()
                problem = run_case(fn, data)
                took = time.perf_counter() - t0
                if took > slowest[0]:
                    slowest = (took, seed_name)
                if problem:
                    failed.append(f"{seed_name}: {problem}")
            seconds = time.perf_counter() - start
            total_failures += len(failed)
            print(f"{name:8s} {len(plan):6d} cases in {seconds:7.1f} s = {len(plan) / seconds:7.1f} cases/s, "
                  f"slowest {slowest[0]:.2f} s ({slowest[1]}), failures {len(failed)}, "
                  f"peak RSS so far {peak_rss_mb():.0f} MB", flush=True)
            reached = getattr(getattr(plan[0][0], "faces_reached", None), "__int__", None) if plan else None
            if reached is not None:
                print(f"{'':8s} {plan[0][0].faces_reached} of them reached a face (detection, model, paste)")
            for line in failed[: args.show]:
                print(f"    {line}")
    print(f"all: {args.cases} cases requested, {total_failures} failures, "
          f"{time.perf_counter() - start_all:.0f} s, pid {os.getpid()}")
    return 1 if total_failures else 0


if __name__ == "__main__":
    sys.exit(main())
