"""What a bulk run may write, settled before any photo is processed.

- One run at a time per DST: a lock on ``DST/.infoscrub/lock`` (``flock``: the kernel
  releases it when the process ends, however it ends, so a killed run never leaves it stuck).
- Never onto a source photo: no destination may be, by its real path (symlinks and every
  spelling of the paths resolved), one of the photos being read.
- Never out of DST: a destination whose real path leaves DST (a symlinked folder inside it)
  is refused.
- Never over a file it did not write: an existing destination must be named as the output
  of its done record (the files earlier runs wrote), unless ``--force`` allows replacing
  other files (never a source photo).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from infoscrub.bulk.records import STATE, previous_output
from infoscrub.errors import InfoscrubError
from infoscrub.privacy_report import readable

LOCK = "lock"
SHOWN_EXAMPLES = 3


class DstLock:
    """Held while a run writes into DST; a second run on the same DST is refused at once."""

    def __init__(self, dst: Path):
        self.path = dst / STATE / LOCK
        self.handle = None

    def __enter__(self) -> "DstLock":
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise InfoscrubError(f"{self.path.parent.parent} is in use by another infoscrub bulk run ({holder}); "
                                 "wait for it to end or choose another DST") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        handle.flush()
        self.handle = handle
        return self

    def __exit__(self, *exc) -> None:
        if self.handle is not None:
            self.handle.close()  # closing releases the lock
            self.handle = None


def output_relative(relative: str) -> str:
    """Where under DST a source's output goes: its own relative path (a clip in a container
    infoscrub does not write, .avi, as .mp4)."""
    from infoscrub.video.container import written_name

    return str(Path(relative).with_name(written_name(relative)))


def check_outputs(sources, dst: Path, force: bool = False) -> None:
    """Refuse, in one line and before any photo is processed, a run that would write onto a
    source photo, out of DST, or over a file it did not write (unless ``force``)."""
    root = os.path.realpath(dst)
    source_paths = [os.fsdecode(b) for b in sources.column("source_fs").to_pylist()]
    real_sources = {os.path.realpath(s): s for s in source_paths}
    onto_source, outside, foreign = [], [], []
    for raw in sources.column("relative_fs").to_pylist():
        relative = os.fsdecode(raw)
        destination = dst / output_relative(relative)
        real = os.path.realpath(destination)
        if real in real_sources:
            onto_source.append((destination, real_sources[real]))
        elif os.path.commonpath([root, real]) != root or Path(real).relative_to(root).parts[:1] == (STATE,):
            outside.append(destination)
        elif os.path.lexists(destination) and previous_output(dst, relative) != destination:  # not bulk's own
            foreign.append(destination)
    if onto_source:
        where, source = onto_source[0]
        raise InfoscrubError(f"{readable(str(where))} is the source photo {readable(source)}: bulk never writes onto "
                             f"its inputs ({len(onto_source)} such photo(s)); choose a DST apart from the photos")
    if outside:
        raise InfoscrubError(f"{readable(str(outside[0]))} leads out of DST through a link ({len(outside)} such "
                             "path(s)); choose a DST without links to other folders")
    if foreign and not force:
        examples = ", ".join(readable(str(p)) for p in foreign[:SHOWN_EXAMPLES])
        raise InfoscrubError(f"DST already holds {len(foreign)} file(s) that bulk did not write ({examples}); "
                             "move them, choose another DST, or pass --force to replace them")
