"""The Ray actor that scrubs: loads the models once, then one batch of photos per call,
returning report rows with fixed column types."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from infoscrub.bulk.guard import output_relative
from infoscrub.bulk.records import STATE, done_record, finished, mark_finished, previous_output
from infoscrub.bulk.sources import row_paths
from infoscrub.bulk.time_limit import time_limit
from infoscrub.storage.files import read_bytes
from infoscrub.errors import InfoscrubError
from infoscrub.photo_job import ScrubOptions, scrub_album_file, scrub_file
from infoscrub.privacy_report import readable
from infoscrub.video.container import is_video
from infoscrub.video.job import file_sha256

# the report's columns and types, fixed so that batches where a column is all empty agree
REPORT_TYPES = {"source": "string", "relative": "string", "output": "string", "sha256": "string",
                "status": "string", "error": "string", "face": "int32", "box": "string",
                "attributes": "string", "belief_before": "string", "belief_after": "string",
                "strength": "float64", "identity_distance": "float64", "same_person": "bool_",
                "person": "int32"}
CRASH_ONCE = "INFOSCRUB_BULK_CRASH_ONCE"  # fault injection for the tests: die once at this photo


def report_schema():
    import pyarrow as pa

    return pa.schema([(name, getattr(pa, kind)()) for name, kind in REPORT_TYPES.items()])


def report_rows(source: str, relative: str, entry: dict[str, Any], chosen: list[str]) -> list[dict[str, Any]]:
    """One row per face, or one for a photo without a face or with an error. Beliefs are the
    report attacker's probabilities of the chosen attributes, as JSON objects."""
    output = entry.get("output")
    base = {"source": source, "relative": relative, "output": None if output is None else readable(output),
            "sha256": entry.get("sha256"),
            "status": entry["status"], "error": entry.get("error"), "attributes": ",".join(chosen)}
    if entry.get("kind") == "video":  # one row per person, the beliefs averaged over their frames
        return [{**base, "face": person["person"], "person": person["person"],
                 "box": json.dumps({"frames": [person["first_frame"], person["last_frame"]]}),
                 "belief_before": json.dumps({a: v["p_before"] for a, v in person["attacker"].items()}),
                 "belief_after": json.dumps({a: v["p_after"] for a, v in person["attacker"].items()}),
                 "strength": entry.get("strength")} for person in entry.get("people", [])] or [base]
    faces = entry.get("faces") or []
    if not faces:
        return [base]
    rows = []
    for face in faces:
        attacker = face.get("attacker") or {}
        rows.append({**base, "face": face["index"], "box": json.dumps(face["box"]),
                     "belief_before": json.dumps({a: attacker[a]["p_before"] for a in chosen if a in attacker}),
                     "belief_after": json.dumps({a: attacker[a]["p_after"] for a in chosen if a in attacker}),
                     "strength": face.get("strength", entry.get("strength")),
                     "identity_distance": (face.get("identity") or {}).get("distance"),
                     "same_person": (face.get("identity") or {}).get("same_person"),
                     "person": face.get("person")})  # an album's person (bulk --album)
    return rows


class ScrubActor:
    """One Ray actor: the models loaded once, then ``__call__`` per batch of photos."""

    def __init__(self, options: ScrubOptions, weights: dict[str, Any], threads: int, dst: str, key: str,
                 run: str, album: Any = None, reported: frozenset[str] | None = None,
                 photo_seconds: float | None = None):
        """``album``: the collection's ``bulk.album_plan.AlbumPlan`` (each person one edit), or None.
        ``reported``: the earlier runs that wrote their report; a photo finished by any other
        (a run killed before its report) is reported by this run with its rows as they were.
        ``photo_seconds``: the time limit of one photo."""
        from infoscrub.bulk.album_plan import load_scrubber

        # this actor's share of the cores, no more
        self.scrubber = load_scrubber(weights, threads)
        # run_bulk checked before any photo that every existing output is bulk's own (or that
        # --force allows replacing it): a stale output of other settings or bytes is replaced
        self.options = replace(options, force=True)
        self.dst, self.key, self.run, self.album = Path(dst), key, run, album
        self.reported, self.photo_seconds = reported, photo_seconds
        self.chosen = list(options.request.attributes)

    def __call__(self, batch: dict[str, Any]):
        import pyarrow as pa

        rows: list[dict[str, Any]] = []
        for i in range(len(batch["relative"])):
            rows.extend(self.one(*row_paths(batch, i)))
        # every text as valid UTF-8: an error message may quote a non-UTF-8 file name
        return pa.Table.from_pylist([{name: readable(v) if isinstance(v := row.get(name), str) else v
                                      for name in REPORT_TYPES} for row in rows], schema=report_schema())

    def one(self, source: str, relative: str, shown_source: str, shown_relative: str) -> list[dict[str, Any]]:
        """The report rows of one photo: ``source`` and ``relative`` are the file system's
        paths, ``shown_*`` the same as text for the report."""
        if os.environ.get(CRASH_ONCE) == shown_relative and not (self.dst / STATE / "crashed").exists():
            (self.dst / STATE / "crashed").write_text("once")
            os._exit(1)
        clip = is_video(source)
        try:  # a clip is hashed as it streams by, never read whole
            data = None if clip else read_bytes(Path(source))
            sha = file_sha256(Path(source)) if clip else hashlib.sha256(data).hexdigest()
        except InfoscrubError as exc:  # unreadable now (maybe for a moment): its old output stays
            return [{"source": shown_source, "relative": shown_relative, "status": "error", "error": str(exc)}]
        done = finished(self.dst, relative, sha, self.key)
        unreported = self.reported is not None and done is not None and done.get("run") not in self.reported
        if done is not None and (done.get("run") == self.run or unreported):
            # finished earlier in this run by an actor that died before returning its batch,
            # or by a run killed before it wrote its report: reported as it was done
            return done["rows"]
        if done is not None:
            return [{"source": shown_source, "relative": shown_relative, "sha256": sha, "status": "done_before",
                     "output": readable(done["output"]) if done.get("output") else None}]
        try:
            with time_limit(None if clip else self.photo_seconds):  # a clip takes as long as it is
                if clip:
                    entry = self.scrub_clip(source, relative, sha)
                elif self.album is None:
                    entry = scrub_file(self.scrubber, Path(source), self.dst / relative, self.options,
                                       data=data).entry
                else:
                    entry = self.scrub_in_album(source, relative, shown_relative, data)
        except InfoscrubError as exc:  # the time limit
            entry = {"input": source, "output": None, "status": "error", "error": str(exc), "sha256": sha}
        if entry.get("output") is None:
            self.drop_stale_output(relative)
        rows = report_rows(shown_source, shown_relative, entry, self.chosen)
        if entry["status"] != "error":  # errors are tried again by the next run
            mark_finished(self.dst, relative, sha, self.key, self.run, entry.get("output"), rows)
        return rows

    def scrub_clip(self, source: str, relative: str, sha: str) -> dict[str, Any]:
        """One clip, one task (``video.job``): every person one edit across its frames;
        ``sha``: its digest, already computed."""
        from infoscrub.video.job import VideoOptions, scrub_video_file

        options = VideoOptions(self.options.request, copy_faceless=self.options.copy_faceless, force=True)
        result, _ = scrub_video_file(self.scrubber, Path(source), self.dst / output_relative(relative), options,
                                     digest=sha)
        return result.entry

    def drop_stale_output(self, relative: str) -> None:
        """The photo's new bytes (or settings) gave no output (no face, not a photo, failed):
        the output an earlier run wrote would stand for it, so it goes, with its record."""
        stale = previous_output(self.dst, relative)
        if stale is not None and stale == self.dst / output_relative(relative):
            stale.unlink(missing_ok=True)
            done_record(self.dst, relative).unlink(missing_ok=True)

    def scrub_in_album(self, source: str, relative: str, key: str, data: bytes) -> dict[str, Any]:
        """The photo with the album's edit for each of its people (``key``: its relative path
        as shown, the album's key)."""
        from infoscrub.consistent_album import AlbumScrub

        if key not in self.album.faces:
            reason = self.album.errors.get(key, "it was not there")
            return {"input": source, "output": None, "status": "error",
                    "error": f"not part of the album: when the album was read, {reason}"}
        job = AlbumScrub(self.scrubber, self.album.photo_album(key), self.options.request, plan=self.album.plan)
        return scrub_album_file(job, 0, Path(source), self.dst / relative, self.options, data=data,
                                digest=self.album.sha256.get(key)).entry
