"""CelebA's ``identity_CelebA.txt``: which person each image shows (``NAME ID`` per line)."""

from __future__ import annotations

from pathlib import Path

from infoscrub.data.celeba import read_text_lines
from infoscrub.errors import InfoscrubError

IDENTITY_FILE = "identity_CelebA.txt"


def read_identities(path: str | Path) -> dict[str, int]:
    """{image name: person id}; a folder means its ``identity_CelebA.txt``."""
    path = Path(path)
    if path.is_dir():
        path = path / IDENTITY_FILE
    if not path.is_file():
        raise InfoscrubError(f"{path} does not exist (CelebA's identity file, 'NAME ID' per line)")
    identities: dict[str, int] = {}
    for number, line in enumerate(read_text_lines(path), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or not fields[1].isdigit():
            raise InfoscrubError(f"{path}:{number}: expected 'NAME ID', got {line.strip()[:60]!r}")
        if fields[0] in identities:
            raise InfoscrubError(f"{path}:{number}: {fields[0]} appears twice")
        identities[fields[0]] = int(fields[1])
    if not identities:
        raise InfoscrubError(f"{path} names no image")
    return identities
