"""The driver's side of a bulk run: the actors' rows streamed into a Parquet report
partitioned by status, the counts of the final summary, and a progress line.

The report of a run is ``DST/.infoscrub/report/run=<id>/status=<status>/part-0.parquet``
(hive partitioning: ``pyarrow.parquet.read_table`` or any SQL engine reads ``run`` and
``status`` back as columns). Each file is written under a temporary name and renamed when
the run ends, so a report that exists is complete.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

FLUSH_ROWS = 20_000  # rows buffered per status before a Parquet row group is written
SHOWN_ERRORS = 10  # failed photos named in the summary (the report has them all)


def reported_runs(root: Path) -> frozenset[str]:
    """The runs under ``root`` (DST's report folder) that wrote their report: a run killed
    before it ended left none, so its photos are reported by the next run."""
    if not root.is_dir():
        return frozenset()
    return frozenset(folder.name.removeprefix("run=") for folder in root.glob("run=*")
                     if any(folder.glob("status=*/part-0.parquet")))


def drop_unfinished_reports(root: Path) -> None:
    """The temporary files of reports whose runs were killed (none runs now: DST is locked)."""
    for tmp in root.glob("run=*/status=*/part-0.parquet.tmp"):
        tmp.unlink(missing_ok=True)


class ReportWriter:
    """One Parquet file per status; ``add`` takes a batch (pyarrow table) of report rows."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.writers: dict[str, Any] = {}
        self.pending: dict[str, list] = {}
        self.photos: dict[str, int] = {}  # photos per status
        self.faces = 0
        self.first_errors: list[tuple[str, str]] = []  # (relative path, error), the first few

    def add(self, table) -> int:
        """Buffer a batch; returns how many photos it finished. A photo's rows come together
        in one batch (an actor returns all the rows of the photos it was given): its first
        row is face 0, or the one row of a photo without a face."""
        import pyarrow.compute as pc

        faces = table.column("face")
        first = pc.fill_null(pc.equal(faces, 0), True)
        self.faces += len(faces) - faces.null_count
        finished = 0
        for status in pc.unique(table.column("status")).to_pylist():
            part = table.filter(pc.equal(table.column("status"), status))
            photos = pc.sum(first.filter(pc.equal(table.column("status"), status))).as_py() or 0
            self.photos[status] = self.photos.get(status, 0) + photos
            finished += photos
            if status == "error" and len(self.first_errors) < SHOWN_ERRORS:
                pairs = zip(part.column("relative").to_pylist(), part.column("error").to_pylist())
                self.first_errors.extend(list(pairs)[:SHOWN_ERRORS - len(self.first_errors)])
            self.pending.setdefault(status, []).append(part.drop_columns(["status"]))
            if sum(len(p) for p in self.pending[status]) >= FLUSH_ROWS:
                self.flush(status)
        return finished

    def flush(self, status: str) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        parts = self.pending.pop(status, [])
        if not parts:
            return
        table = pa.concat_tables(parts)
        if status not in self.writers:
            path = self.partition(status) / "part-0.parquet.tmp"
            path.parent.mkdir(parents=True, exist_ok=True)
            self.writers[status] = pq.ParquetWriter(str(path), table.schema)
        self.writers[status].write_table(table)

    def close(self) -> None:
        for status in list(self.pending):
            self.flush(status)
        for status, writer in self.writers.items():
            writer.close()
            part = self.partition(status) / "part-0.parquet"
            os.replace(part.with_name(part.name + ".tmp"), part)

    def abandon(self) -> None:
        """The run failed: no half-written report is left behind (the done records keep what
        was finished)."""
        for status, writer in self.writers.items():
            writer.close()
            self.partition(status).joinpath("part-0.parquet.tmp").unlink(missing_ok=True)
        self.writers.clear()

    def partition(self, status: str) -> Path:
        return self.folder / f"status={status}"


class Progress:
    """A line on a terminal (or a line every 10 s elsewhere): photos done, photos/s, ETA."""

    def __init__(self, total: int, stream: TextIO | None = None, enabled: bool = True):
        self.total, self.done, self.stream, self.enabled = total, 0, stream or sys.stderr, enabled
        self.start = self.shown = time.perf_counter()
        self.live = self.stream.isatty()

    def advance(self, photos: int) -> None:
        self.done += photos
        now = time.perf_counter()
        if self.enabled and (now - self.shown >= (0.5 if self.live else 10.0) or self.done == self.total):
            self.shown = now
            self.stream.write(("\r" if self.live else "") + self.line(now) + ("\033[K" if self.live else "\n"))
            self.stream.flush()

    def line(self, now: float) -> str:
        rate = self.done / max(now - self.start, 1e-9)
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        shown_eta = "?" if eta == float("inf") else time.strftime("%H:%M:%S", time.gmtime(eta))
        return f"{self.done}/{self.total} photos, {rate:.1f} photos/s, ETA {shown_eta}"

    def end(self) -> None:
        if self.enabled and self.live:
            self.stream.write("\n")
