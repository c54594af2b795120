"""The light entropy at the bottom: the same numbers as the tensor version, without torch."""

import subprocess
import sys

import pytest

from infoscrub.entropy import entropy_bits


@pytest.mark.parametrize("p, bits", [(0.5, 1.0), (0.0, 0.0), (1.0, 0.0), (0.25, 0.8112781244591328)])
def test_known_values(p, bits):
    assert entropy_bits(p) == pytest.approx(bits, abs=1e-12)


def test_matches_the_tensor_version():
    torch = pytest.importorskip("torch")
    from infoscrub.evaluation import metrics

    ps = [1e-9, 0.01, 0.3, 0.5, 0.77, 0.999, 1.0 - 1e-13]
    tensor = metrics.entropy_bits(torch.tensor(ps)).tolist()
    assert [entropy_bits(p) for p in ps] == pytest.approx(tensor, abs=1e-6)


def test_importing_it_loads_neither_torch_nor_the_evaluation_package():
    code = ("import sys, infoscrub.entropy; "
            "print(sorted(m for m in ('torch', 'infoscrub.evaluation') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": "src", "PATH": ""}, cwd=__file__.rsplit("/tests/", 1)[0])
    assert out.stdout.strip() == "[]"
