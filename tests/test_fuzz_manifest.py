"""Fuzzing bulk manifests: seeded mutants of CSV and Parquet manifests (hostile paths among
them) through the listing and the output guard. Each either gives rows that are safe to
write (normalised, inside DST, not among its records, one per output, never a source) or
is refused in one line; nothing else (no traceback, no hang)."""

from __future__ import annotations

import io
import posixpath
import random
from pathlib import Path

import pytest

pa = pytest.importorskip("pyarrow", reason="the bulk extra (ray[data]) is not installed")
import pyarrow.parquet as pq
from fuzzing import _one_line_error, cases, run_case

from infoscrub.bulk.guard import check_outputs
from infoscrub.bulk.records import STATE
from infoscrub.bulk.sources import list_sources

HOSTILE = ["a.jpg", "./b.jpg", "sub//c.jpg", "/abs/d.jpg", "../e.jpg", "sub/../../f.jpg", ".infoscrub/g.jpg",
           "./.infoscrub/h.jpg", "//.infoscrub//i.jpg", "j.jpg/", ".", "/", "k\x00.jpg", "l\n.jpg",
           "caf\u00e9.jpg", "<!--<script>.jpg", "a.jpg", " m.jpg", "n" * 300 + ".jpg", "o/./p.jpg"]


def seeds() -> dict[str, bytes]:
    rows = "\n".join(f'"{p}"' for p in HOSTILE)
    buffer = io.BytesIO()
    pq.write_table(pa.table({"path": HOSTILE, "n": list(range(len(HOSTILE)))}), buffer)
    return {"manifest.csv": ("path\n" + rows + "\n").encode(), "manifest.parquet": buffer.getvalue()}


class ManifestTarget:
    """One manifest through ``list_sources`` and ``check_outputs``; the problem, or None."""

    def __init__(self, root: Path):
        self.root = root
        self.count = 0

    def __call__(self, data: bytes, suffix: str) -> str | None:
        self.count += 1
        folder = self.root / f"case{self.count}"
        (folder / "dst").mkdir(parents=True)
        manifest = folder / f"manifest{suffix}"
        manifest.write_bytes(data)
        try:
            listing = list_sources(manifest)
            check_outputs(listing, folder / "dst")
        except Exception as exc:  # noqa: BLE001 - a refusal must be one line, anything else is a bug
            return _one_line_error(exc)
        relatives = listing.column("relative").to_pylist()
        if len(set(relatives)) != len(relatives):
            return f"two rows land on one output: {relatives}"
        for relative in relatives:
            if (relative != posixpath.normpath(relative) or relative.startswith(("/", "../")) or relative == ".."
                    or relative.split("/")[0] == STATE):
                return f"unsafe output path {relative!r}"
        return None


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_manifest_mutants_are_listed_safely_or_refused_in_one_line(tmp_path, suffix):
    target = ManifestTarget(tmp_path)
    seed = {k: v for k, v in seeds().items() if k.endswith(suffix)}
    assert target(next(iter(seed.values())), suffix) is None  # the seed itself: refused in one line
    problems = []
    for name, data in cases(seed, 150, seed=random.Random(suffix).randrange(10**6)):
        problem = run_case(lambda d: target(d, suffix), data)
        if problem:
            problems.append(f"{name}: {problem}")
    assert problems == []


def test_each_hostile_path_alone_is_listed_safely_or_refused(tmp_path):
    target = ManifestTarget(tmp_path)
    for path in HOSTILE:
        buffer = io.BytesIO()
        pq.write_table(pa.table({"path": [path]}), buffer)
        assert target(buffer.getvalue(), ".parquet") is None, path
