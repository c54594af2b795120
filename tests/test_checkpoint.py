"""Checkpoints: atomic, self-describing, safely loaded, strict."""

import pickle

import pytest
import torch

from infoscrub.errors import InfoscrubError
from infoscrub.storage.checkpoints import (
    atomic_torch_save,
    load_checkpoint,
    load_module_state,
    restore_rng,
    rng_state,
    save_checkpoint,
)


def _save(path, model, **kw):
    opt = torch.optim.Adam(model.parameters())
    model(torch.randn(2, 4)).sum().backward()
    opt.step()
    save_checkpoint(path, kind=kw.get("kind", "stage1"), config={"a": {"b": 1}}, attributes=["Male"],
                    alignment="celebahq", image_size=128, step=5, models={"net": model},
                    optimizers={"net": opt})
    return opt


def test_round_trip_is_self_describing(tmp_path):
    model = torch.nn.Linear(4, 2)
    opt = _save(tmp_path / "c.pt", model)
    state = load_checkpoint(tmp_path / "c.pt", "stage1")
    assert state["step"] == 5 and state["attributes"] == ["Male"] and state["alignment"] == "celebahq"
    assert state["config"] == {"a": {"b": 1}} and state["image_size"] == 128
    other = torch.nn.Linear(4, 2)
    load_module_state(other, state["models"]["net"], "net")
    assert torch.equal(other.weight, model.weight)
    opt2 = torch.optim.Adam(other.parameters())
    opt2.load_state_dict(state["optimizers"]["net"])
    assert torch.equal(opt2.state_dict()["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"])
    assert list(tmp_path.iterdir()) == [tmp_path / "c.pt"]  # no temp file left behind


def test_wrong_kind_wrong_shape_and_foreign_files_are_clear_errors(tmp_path):
    _save(tmp_path / "c.pt", torch.nn.Linear(4, 2))
    with pytest.raises(InfoscrubError, match="stage1 checkpoint; expected adversary"):
        load_checkpoint(tmp_path / "c.pt", "adversary")
    state = load_checkpoint(tmp_path / "c.pt")
    with pytest.raises(InfoscrubError, match="does not fit the net network") as caught:
        load_module_state(torch.nn.Linear(4, 3), state["models"]["net"], "net")
    assert "\n" not in str(caught.value)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InfoscrubError, match="not a readable"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(1)}, tmp_path / "plain.pt")
    with pytest.raises(InfoscrubError, match="not an infoscrub checkpoint"):
        load_checkpoint(tmp_path / "plain.pt")
    with pytest.raises(InfoscrubError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")


class _Evil:
    def __reduce__(self):
        return (print, ("executed",))


@pytest.mark.parametrize("protocol", [2, pickle.DEFAULT_PROTOCOL])
def test_arbitrary_pickles_are_refused(tmp_path, protocol):
    with open(tmp_path / "evil.pt", "wb") as handle:
        pickle.dump({"format": "infoscrub-checkpoint", "x": _Evil()}, handle, protocol=protocol)
    with pytest.raises(InfoscrubError, match="not unpickled") as caught:
        load_checkpoint(tmp_path / "evil.pt")
    message = str(caught.value)
    # torch's own text advises retrying with weights_only=False: that advice must not reach the user
    assert "\n" not in message and "weights_only" not in message and "trust" not in message


def test_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "c.pt"
    atomic_torch_save({"v": 1}, target)

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        atomic_torch_save({"v": Unpicklable()}, target)
    assert torch.load(target, weights_only=True) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]


def test_rng_state_restores_exactly():
    state = rng_state()
    a = torch.rand(3)
    restore_rng(state)
    assert torch.equal(torch.rand(3), a)
