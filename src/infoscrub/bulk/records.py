"""Done records: what makes a rerun skip a finished photo and redo only the rest.

Beside DST's mirrored photos, ``DST/.infoscrub/done/<relative>.json`` says from which bytes
(SHA-256) and with which settings a photo was finished, where its output is, and the report
rows it produced (so an actor retried after dying mid-batch reports a photo it had already
finished as it was done, not as done before).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from infoscrub.errors import InfoscrubError
from infoscrub.photo_job import ScrubOptions
from infoscrub.storage.atomic import atomic_write
from infoscrub.storage.files import file_sha256

STATE = ".infoscrub"  # inside DST: the done records and the reports, never mirrored photos


def settings_key(options: ScrubOptions, weights: list[str | None], identity: bool = False) -> str:
    """What makes two outputs (and report rows) of one source the same: the edit settings,
    the weights' bytes (None: the bundled weights) and whether identity was checked."""
    chosen = asdict(options)
    chosen.update(chosen.pop("request"))  # flat, as the options were: earlier runs' keys still match
    chosen.pop("force", None)
    chosen["identity"] = identity
    fingerprint = [file_digest(w) if w else "bundled" for w in weights]
    return hashlib.sha256(json.dumps([chosen, fingerprint], sort_keys=True, default=str).encode()).hexdigest()[:16]


def file_digest(path: str) -> str:
    digest = file_sha256(path)
    if digest is None:
        raise InfoscrubError(f"cannot read {path}")
    return digest[:16]


def done_record(dst: Path, relative: str) -> Path:
    return dst / STATE / "done" / f"{relative}.json"


def finished(dst: Path, relative: str, sha256: str, key: str) -> dict[str, Any] | None:
    """The done record of a photo finished with these settings from these bytes whose output
    (if it has one) is still there; None when it must be (re)done."""
    try:
        done = json.loads(done_record(dst, relative).read_text())
    except (OSError, ValueError):
        return None
    if done.get("sha256") != sha256 or done.get("settings") != key:
        return None
    if done.get("output") is not None and not Path(done["output"]).is_file():
        return None
    return done


def previous_output(dst: Path, relative: str) -> Path | None:
    """The output the photo's done record names (of any settings or bytes), if any."""
    try:
        output = json.loads(done_record(dst, relative).read_text()).get("output")
    except (OSError, ValueError, AttributeError):
        return None
    return Path(output) if isinstance(output, str) else None


def mark_finished(dst: Path, relative: str, sha256: str, key: str, run: str, output: str | None,
                  rows: list[dict[str, Any]]) -> None:
    text = json.dumps({"sha256": sha256, "settings": key, "output": output, "run": run, "rows": rows})
    atomic_write(done_record(dst, relative), lambda tmp: Path(tmp).write_text(text))
