"""Benchmark: pack the train split into shards, then load (decode) it; prints seconds.

Targets on the 2-core development machine (issue 2): pack the 24,000-image train split of
../shared/data/celebahq128 in under 2 minutes, load it in under 1 minute.

    .venv/bin/python benchmarks/data_pack.py [ROOT] [--split train]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from infoscrub.data import load_image_set
from infoscrub.data.shards import PackSettings, pack_split

DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "celebahq128"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", default=str(DEFAULT_ROOT))
    parser.add_argument("--split", default="train")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        manifest = pack_split(args.root, Path(tmp) / "packed", PackSettings(split=args.split))
        pack_s = time.perf_counter() - start
        start = time.perf_counter()
        images = load_image_set(Path(tmp) / "packed", args.split, 128)
        load_s = time.perf_counter() - start
        total_mb = sum(s["bytes"] for s in manifest["shards"]) / 1e6
    print(f"pack: {manifest['count']} images -> {len(manifest['shards'])} shards, {total_mb:.1f} MB, "
          f"{pack_s:.1f} s (target < 120 s)")
    print(f"load: {tuple(images.images.shape)} uint8 in {load_s:.1f} s (target < 60 s), "
          f"{len(images) / load_s:.0f} images/s")


if __name__ == "__main__":
    main()
