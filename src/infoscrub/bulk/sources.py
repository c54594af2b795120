"""The photos of a collection, as a table of (source, relative) paths: a folder tree, or a
Parquet/CSV manifest with a ``path`` column (the way to list millions: no walk of the tree,
and the columns are computed in Arrow, not row by row in Python)."""

from __future__ import annotations

from pathlib import Path

from infoscrub.bulk.records import STATE
from infoscrub.errors import InfoscrubError
from infoscrub.photo_io import FORMAT_BY_SUFFIX


def list_sources(src: Path):
    """A pyarrow table: ``source`` (the path to read) and ``relative`` (the path under DST)
    for every photo under a folder (hidden files and folders left out), or every ``path``
    of a manifest (relative paths are taken from the manifest's folder; absolute ones are
    mirrored under DST whole)."""
    import pyarrow as pa

    if src.is_dir():
        sources, relatives = [], []
        for path in sorted(src.rglob("*")):
            parts = path.relative_to(src).parts
            if (path.is_file() and path.suffix.lower() in FORMAT_BY_SUFFIX and STATE not in parts
                    and not any(part.startswith(".") for part in parts)):
                sources.append(str(path))
                relatives.append(str(path.relative_to(src)))
        return pa.table({"source": pa.array(sources, pa.string()), "relative": pa.array(relatives, pa.string())})
    if src.suffix.lower() in (".parquet", ".csv"):
        return manifest_sources(src)
    raise InfoscrubError(f"{src} is neither a folder nor a .parquet / .csv manifest")


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
    if table is None:
        raise InfoscrubError(f"{src} has no 'path' column")
    paths = pc.cast(table.column("path"), pa.string()).combine_chunks()
    if paths.null_count or pc.any(pc.equal(paths, "")).as_py():
        raise InfoscrubError(f"{src} has an empty 'path'")
    climbing = pc.match_substring_regex(paths, r"(^|/)\.\.(/|$)")
    if pc.any(climbing).as_py():
        example = paths.filter(climbing)[0].as_py()
        raise InfoscrubError(f"{src}: path {example!r} climbs out of DST through '..'")
    absolute = pc.starts_with(paths, "/")
    relative = pc.replace_substring_regex(paths, r"^/+", "")
    if pc.any(pc.match_substring_regex(relative, rf"^{STATE.replace('.', '[.]')}(/|$)")).as_py():
        raise InfoscrubError(f"{src}: a path under {STATE}/ would land among DST's own records")
    source = pc.if_else(absolute, paths, pc.binary_join_element_wise(str(src.parent), paths, "/"))
    return pa.table({"source": source, "relative": relative})
