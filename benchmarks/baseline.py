"""Run a benchmark against an earlier revision in the same run, so a speed-up is measured
against the code it replaces on the same machine at the same time, not against a number
from another day.

``checkout(rev)`` exports the revision's ``src/`` into ``local/baselines/REV`` (ignored by
git) once; ``baseline_env(path)`` is the environment that makes a subprocess import
infoscrub from there (PYTHONPATH comes before the installed, editable package).
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def checkout(rev: str) -> Path:
    """The revision's source tree (``.../src``), exported once with ``git archive``."""
    commit = subprocess.run(["git", "rev-parse", "--short", rev], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout.strip()
    target = ROOT / "local" / "baselines" / commit
    if not (target / "src" / "infoscrub").is_dir():
        archive = subprocess.run(["git", "archive", "--format=tar", commit, "src"], cwd=ROOT, check=True,
                                 capture_output=True).stdout
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(target, filter="data")
    return target / "src"


def baseline_env(src: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env
