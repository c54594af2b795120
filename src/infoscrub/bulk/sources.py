"""The photos of a collection, as a table of paths: a folder tree, or a Parquet/CSV manifest
with a ``path`` column (the way to list millions: no walk of the tree; Arrow reads the
column and checks it as a whole, then each path is normalised once).

Each row has the paths twice. ``source_fs`` and ``relative_fs`` are the file system's own
bytes (a Linux file name need not be UTF-8), which the actors open and write; ``source`` and
``relative`` are the same as valid UTF-8 text (undecodable bytes shown as ``\\xNN``), for
the report and as the album's keys. ``relative`` is normalised (no ``./``, ``//`` or
trailing ``/``), and a photo listed twice is one row.
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

from infoscrub.bulk.records import STATE
from infoscrub.errors import InfoscrubError
from infoscrub.photo_io import FORMAT_BY_SUFFIX
from infoscrub.video.container import is_video
from infoscrub.privacy_report import readable

def row_paths(batch: dict, i: int) -> tuple[str, str, str, str]:
    """(source, relative) as the file system's paths, then as shown, of row ``i`` of a batch."""
    return (os.fsdecode(bytes(batch["source_fs"][i])), os.fsdecode(bytes(batch["relative_fs"][i])),
            str(batch["source"][i]), str(batch["relative"][i]))


def list_sources(src: Path):
    """A pyarrow table (source, relative, source_fs, relative_fs) of every photo under a folder (hidden files and folders
    left out), or every ``path`` of a manifest (relative paths are taken from the manifest's
    folder; absolute ones are mirrored under DST whole)."""
    if src.is_dir():
        return folder_sources(src)
    if src.suffix.lower() in (".parquet", ".csv"):
        return manifest_sources(src)
    raise InfoscrubError(f"{src} is neither a folder nor a .parquet / .csv manifest")


def folder_sources(src: Path):
    sources, relatives = [], []
    for path in sorted(src.rglob("*")):
        parts = path.relative_to(src).parts
        if (path.is_file() and (path.suffix.lower() in FORMAT_BY_SUFFIX or is_video(path)) and STATE not in parts
                and not any(part.startswith(".") for part in parts)):
            sources.append(str(path))
            relatives.append(str(path.relative_to(src)))
    return paths_table(sources, relatives)


def paths_table(sources: list[str], relatives: list[str]):
    import pyarrow as pa

    return pa.table({"source": pa.array([readable(s) for s in sources], pa.string()),
                     "relative": pa.array([readable(r) for r in relatives], pa.string()),
                     "source_fs": pa.array([os.fsencode(s) for s in sources], pa.binary()),
                     "relative_fs": pa.array([os.fsencode(r) for r in relatives], pa.binary())})


def manifest_sources(src: Path):
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    try:
        if src.suffix.lower() == ".parquet":
            names = pq.read_schema(src).names
            table = pq.read_table(src, columns=["path"]) if "path" in names else None
        else:
            table = pacsv.read_csv(src, convert_options=pacsv.ConvertOptions(column_types={"path": pa.string()}))
            table = table if "path" in table.column_names else None
    except (pa.ArrowInvalid, OSError) as exc:
        raise InfoscrubError(f"{src} is not a readable manifest: {str(exc).splitlines()[0]}") from None
    except UnicodeDecodeError:  # a column name that is not UTF-8
        raise InfoscrubError(f"{src} is not a readable manifest: its header is not UTF-8 text") from None
    if table is None:
        raise InfoscrubError(f"{src} has no 'path' column")
    try:
        paths = pc.cast(table.column("path"), pa.string()).combine_chunks()
        paths.validate(full=True)  # a CSV is read without checking its text is UTF-8
    except (pa.ArrowInvalid, UnicodeDecodeError):
        raise InfoscrubError(f"{src} has a 'path' that is not UTF-8 text") from None
    if paths.null_count or pc.any(pc.equal(paths, "")).as_py():
        raise InfoscrubError(f"{src} has an empty 'path'")
    climbing = pc.match_substring_regex(paths, r"(^|/)\.\.(/|$)")
    if pc.any(climbing).as_py():
        example = paths.filter(climbing)[0].as_py()
        raise InfoscrubError(f"{src}: path {example!r} climbs out of DST through '..'")
    base = str(src.parent)
    sources, relatives = [], []
    for path in paths.to_pylist():
        if "\x00" in path:
            raise InfoscrubError(f"{src} has a 'path' with a NUL byte, which no file name can hold")
        # ./a, a//b and /a/ name the photos a, a/b and /a: normalised before anything is checked
        relative = posixpath.normpath(path.lstrip("/"))
        if relative in (".", ""):
            raise InfoscrubError(f"{src}: path {path!r} names no file")
        if relative == STATE or relative.startswith(STATE + "/"):
            raise InfoscrubError(f"{src}: a path under {STATE}/ would land among DST's own records")
        sources.append(path if path.startswith("/") else f"{base}/{relative}")
        relatives.append(relative)
    return unique_rows(src, sources, relatives)


def unique_rows(src: Path, sources: list[str], relatives: list[str]):
    """One row per output: a photo listed twice is one row; two photos that would land on
    the same output are refused (one would silently replace the other)."""
    first: dict[str, str] = {}
    keep_sources, keep_relatives = [], []
    for source, relative in zip(sources, relatives):
        source = posixpath.normpath(source)
        if relative in first:
            if first[relative] != source:
                raise InfoscrubError(f"{src}: {first[relative]} and {source} would both be written to {relative}")
            continue
        first[relative] = source
        keep_sources.append(source)
        keep_relatives.append(relative)
    return paths_table(keep_sources, keep_relatives)
