"""Shipped means usable: the wheel carries the trained weights, and an installed wheel (not
this source tree) scrubs a photo with them, no --checkpoint, no download."""

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from infoscrub.rounds.state import package_weights_dir

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "docs" / "images" / "astronaut.jpg"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (package_weights_dir() / "editor.safetensors").is_file(),
                       reason="no weights are bundled in this tree"),
]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # No build isolation: the wheel builds offline with this environment's setuptools.
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out), str(ROOT)], check=True)
    (path,) = out.glob("infoscrub-*.whl")
    return path


def test_the_wheel_carries_the_weights(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for name in ("editor", "attacker"):
        assert f"infoscrub/assets/weights/{name}.safetensors" in names
    assert not any(n.startswith(("state/", "infoscrub/state/")) for n in names)  # training state does not ship


def test_an_installed_wheel_scrubs_a_photo(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    # The fresh venv gets the wheel itself; its dependencies (torch, ...) come from this
    # environment's site-packages through a .pth file, so nothing is downloaded.
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    out = tmp_path / "scrubbed.jpg"
    report = tmp_path / "report.html"
    run = subprocess.run([str(python), "-c", "import sys; from infoscrub.cli import main; sys.exit(main(sys.argv[1:]))",
                          "scrub", str(PHOTO), "--attributes", "Male,Smiling", "--output", str(out),
                          "--report", str(report), "--no-identity"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    where = subprocess.run([str(python), "-c", "import infoscrub; print(infoscrub.__file__)"], cwd=tmp_path,
                           env=env, check=True, capture_output=True, text=True).stdout
    assert str(site) in where and str(ROOT / "src") not in where  # the installed copy ran
    assert out.stat().st_size > 0 and report.stat().st_size > 0
    from PIL import Image

    with Image.open(PHOTO) as before, Image.open(out) as after:
        assert before.size == after.size
    shutil.rmtree(venv)
