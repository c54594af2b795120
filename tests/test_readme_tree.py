"""README's "What is in the box" names every module and folder of the package, and nothing
that is not there."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "infoscrub"


def box() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("src/infoscrub/ ")
    return text[start:text.index("\nbenchmarks/", start)]


def test_every_module_and_folder_is_named():
    block = box()
    entries = {p.name + ("/" if p.is_dir() else "") for p in PACKAGE.iterdir()
               if p.name not in ("__init__.py", "__pycache__", "assets") and (p.is_dir() or p.suffix == ".py")}
    missing = sorted(e for e in entries if not re.search(rf"(^|\s){re.escape(e)}(\s|,|$)", block, re.M))
    assert not missing, f"README's file list does not name {missing}"


def test_every_named_entry_exists():
    named = re.findall(r"^  ([a-z_]+(?:\.py|/))", box(), re.M)
    assert named, "no entries found in README's file list"
    gone = [n for n in named if not (PACKAGE / n.rstrip("/")).exists()]
    assert not gone, f"README names {gone}, which the package does not have"
