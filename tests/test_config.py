"""Typed configs: overrides, files, strictness, attribute resolution."""

import json

import pytest

from infoscrub.attributes import CELEBA_ATTRIBUTES, DEFAULT_ATTRIBUTES, resolve_attributes
from infoscrub.config import apply_overrides, config_from_dict, config_to_dict, load_config_file
from infoscrub.errors import InfoscrubError
from infoscrub.training.stage1 import Stage1Config


def test_defaults_round_trip_through_a_dict():
    cfg = Stage1Config()
    again = config_from_dict(Stage1Config, config_to_dict(cfg))
    assert again == cfg
    assert cfg.data.attributes == list(DEFAULT_ATTRIBUTES)


def test_overrides_are_typed():
    cfg = apply_overrides(Stage1Config(), [
        "run.steps=1e3", "loss.eps_s=0.25", "run.bf16=false", "data.attributes=Male,Smiling",
        "data.limit=10", "data.alignment=none", "variant=d_attr"])
    assert cfg.run.steps == 1000 and isinstance(cfg.run.steps, int)
    assert cfg.loss.eps_s == 0.25 and cfg.run.bf16 is False
    assert cfg.data.attributes == ["Male", "Smiling"]
    assert cfg.data.limit == 10 and cfg.data.alignment is None and cfg.variant == "d_attr"


@pytest.mark.parametrize("bad", ["run.stepz=3", "nosection.x=1", "run.steps=abc", "run.bf16=maybe", "novalue"])
def test_bad_overrides_are_one_line_errors(bad):
    with pytest.raises(InfoscrubError) as err:
        apply_overrides(Stage1Config(), [bad])
    assert "\n" not in str(err.value)


def test_config_files_json_and_toml(tmp_path):
    (tmp_path / "c.json").write_text(json.dumps({"run": {"batch_size": 7}, "loss": {"cont": 3.0}}))
    (tmp_path / "c.toml").write_text("variant = 'd_attr_at'\n[run]\nbatch_size = 9\n")
    assert load_config_file(Stage1Config, tmp_path / "c.json").run.batch_size == 7
    cfg = load_config_file(Stage1Config, tmp_path / "c.toml")
    assert cfg.run.batch_size == 9 and cfg.variant == "d_attr_at" and cfg.loss.cont == 10.0
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InfoscrubError):
        load_config_file(Stage1Config, tmp_path / "bad.json")
    with pytest.raises(InfoscrubError):
        load_config_file(Stage1Config, tmp_path / "missing.json")


def test_attribute_resolution():
    assert resolve_attributes("male, smiling") == ["Male", "Smiling"]
    assert resolve_attributes(None) == list(DEFAULT_ATTRIBUTES)
    assert len(CELEBA_ATTRIBUTES) == 40
    with pytest.raises(InfoscrubError, match="valid names: 5_o_Clock_Shadow"):
        resolve_attributes("Mal")
    with pytest.raises(InfoscrubError, match="twice"):
        resolve_attributes("Male,male")
    with pytest.raises(InfoscrubError):
        resolve_attributes("")


def test_every_attribute_has_a_plain_language_phrase():
    from infoscrub.attributes import CELEBA_ATTRIBUTES, PHRASES

    assert set(PHRASES) == set(CELEBA_ATTRIBUTES)
