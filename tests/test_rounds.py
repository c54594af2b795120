"""Training rounds at tiny size: a whole round on the CPU, its limits, resuming from it,
the compact state's round trip and refusals, and the keep rule."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from infoscrub.cli import main
from infoscrub.config import config_from_dict, config_to_dict
from infoscrub.errors import InfoscrubError
from infoscrub.storage.weights import save_weights
from infoscrub.rounds.keep import is_better, keep_round
from infoscrub.rounds.round import build_round_config, restore_stage1, seconds_until
from infoscrub.rounds.state import (
    EDITOR,
    HELDOUT,
    MAX_FILE_BYTES,
    TRAINER,
    StatePaths,
    read_trainer_state,
    state_problems,
    write_trainer_state,
)
from infoscrub.scrubber import Scrubber
from infoscrub.training.distributed import DistInfo
from infoscrub.training.loop import TrainContext
from infoscrub.training.stage1 import Stage1Config, Stage1Task, sample_inversion_masks
from synthetic import make_celeba_folder
from tiny import ATTRIBUTES, TINY_NETWORKS

ATTRS = ATTRIBUTES
TINY_ROUND = [f"stage1.{setting}" for setting in TINY_NETWORKS] + [
    "stage2.mixer.width=8", "stage2.mixer.blocks=1",
    "attacker.model.width=8", "attacker.run.steps=4", "attacker.run.batch_size=8",
    "heldout.model.width=8", "heldout.run.steps=4", "heldout.run.batch_size=8",
    "stage1.run.log_every=2", "stage2.run.log_every=2", "stage1.restart_d_steps=2",
    "stage1.run.compile=false",  # the CPU round compiles Stage I; a tiny round would spend minutes on it
]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return make_celeba_folder(tmp_path_factory.mktemp("celeba") / "d", n=48, size=32)


def run_round(data_root: Path, out: Path, *args: str) -> dict:
    code = main(["train", "round", "--data", str(data_root), "--test-data", str(data_root), "--out", str(out),
                 "--work", str(out.parent / "work"), "--seconds", "3", "--batch-size", "4", "--device", "cpu",
                 *args, *TINY_ROUND])
    assert code == 0
    return json.loads((out / "metrics.json").read_text())


@pytest.fixture(scope="module")
def first_round(data_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("rounds") / "round1"
    return out, run_round(data_root, out, "--fresh", "--state-dir", str(out.parent / "no-state"))


def test_a_round_leaves_a_complete_state_within_the_transfer_limits(first_round):
    out, metrics = first_round
    files = sorted(p.name for p in out.iterdir())
    assert files == ["attacker.safetensors", "editor.safetensors", "heldout_adversary.safetensors",
                     "metrics.json", "round.log", "samples.png", "trainer.safetensors"]
    assert all(p.is_file() and p.stat().st_size < MAX_FILE_BYTES for p in out.iterdir())
    assert not state_problems(StatePaths.folder(out).shipped())
    assert metrics["round"] == 1
    assert set(metrics["inversion_accuracy"]) == set(ATTRS.split(","))
    seen = metrics["images_seen"]
    assert seen["stage1_round"] > 0 and seen["stage1_total"] == seen["stage1_round"]
    assert seen["stage2_round"] > 0
    for key in ("inversion_accuracy_mean", "utility", "l1"):
        assert 0.0 <= metrics[key] <= 1.0, key
    assert metrics["entropy_bits"]["before"] is not None and metrics["entropy_bits"]["after"] is not None
    assert metrics["paper"]["inversion_accuracy"]["InfoScrub"] == 0.155
    realism = metrics["realism"]
    for key in ("inverted", "obfuscated", "unedited", "blur", "noise"):
        assert realism[key] >= 0.0, key
    assert realism["faces"] > 0
    log = (out / "round.log").read_text()
    assert "remaining" in log and "round done" in log and "realism" in log


def test_scrubber_reads_the_exported_state(first_round):
    out, _ = first_round
    scrubber = Scrubber.load(out / EDITOR, attacker=out / "attacker.safetensors")
    assert scrubber.attributes == ATTRS.split(",") and scrubber.editor.can_obfuscate
    face = (np.random.default_rng(0).random((32, 32, 3)) * 255).astype(np.uint8)
    from PIL import Image

    image, report = scrubber.scrub(Image.fromarray(face), attributes=["Smiling"], mode="obfuscate", aligned=True)
    assert image.size == (32, 32) and report["faces"]


def test_a_second_round_resumes_from_the_first(first_round, data_root, tmp_path):
    out1, m1 = first_round
    m2 = run_round(data_root, tmp_path / "round2", "--from", str(out1))
    assert m2["round"] == 2
    seen1, seen2 = m1["images_seen"], m2["images_seen"]
    assert seen2["stage1_total"] == seen1["stage1_total"] + seen2["stage1_round"]
    assert seen2["stage2_total"] == seen1["stage2_total"] + seen2["stage2_round"]
    assert m2["steps_total"] > m1["steps_total"]
    assert not (tmp_path / "round2" / HELDOUT).exists()  # reused, not retrained
    log = (tmp_path / "round2" / "round.log").read_text()
    assert "heldout: reusing" in log and "attacker: reusing" in log and "continuing" in log


def _tiny_task(cfg: Stage1Config) -> Stage1Task:
    ctx = TrainContext(torch.device("cpu"), DistInfo(), cfg.run, list(cfg.data.attributes), "celebahq", 32)
    return Stage1Task(cfg, ctx)


def test_the_compact_state_continues_training(first_round):
    out, _ = first_round
    info, _ = read_trainer_state(out / TRAINER)
    cfg = config_from_dict(Stage1Config, info["config"], "stage1")
    cfg.run.device = "cpu"
    before = _tiny_task(cfg)
    restore_stage1(before, StatePaths.folder(out))
    assert before.ctx.images_seen == info["images_seen"] > 0
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(8, 3, 32, 32, generator=gen) * 2 - 1
    labels = (torch.rand(8, 3, generator=gen) < 0.5).float()
    mask = sample_inversion_masks(labels, 0.1, gen)
    before.D.eval()
    with torch.no_grad():
        feats, code, x_rec, x_fake = before.generate(x, labels, mask)
        start = before.g_losses(x, x_rec, x_fake, code, labels, mask)
    before.D.train()
    # fresh optimisers, warm-up and D-only steps: the first steps do not jump
    for step in range(6):
        losses = before.train_step(x, labels, step, torch.Generator().manual_seed(step))
        before.ctx.images_seen += len(x)
    assert torch.isfinite(losses["g_loss"])
    for key in ("g_rec", "g_cycle"):
        assert float(losses[key]) < 2.0 * float(start[key]) + 0.02, key
    assert before.ctx.images_seen == info["images_seen"] + 6 * 8


def test_a_mismatched_state_is_refused(first_round, tmp_path):
    out, _ = first_round
    info, disc = read_trainer_state(out / TRAINER)
    # another attribute list
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / EDITOR).write_bytes((out / EDITOR).read_bytes())
    write_trainer_state(bad / TRAINER, disc, {**info, "attributes": ["Male", "Smiling", "Young"]})
    cfg = build_round_config(TINY_ROUND, info["config"]).stage1
    cfg.run.device = "cpu"
    with pytest.raises(InfoscrubError, match="not one state"):
        restore_stage1(_tiny_task(cfg), StatePaths.folder(bad))
    # a discriminator of another size
    write_trainer_state(bad / TRAINER, {k: v[:1] if v.ndim else v for k, v in disc.items()}, info)
    with pytest.raises(InfoscrubError, match="does not fit the discriminator"):
        restore_stage1(_tiny_task(cfg), StatePaths.folder(bad))
    # a changed architecture needs --fresh
    with pytest.raises(InfoscrubError, match="differs in generator"):
        build_round_config(["stage1.generator.width=16"], info["config"])
    # loss weights may change between rounds
    assert build_round_config(["stage1.loss.eps_s=0.2"], info["config"]).stage1.loss.eps_s == 0.2
    # damaged files: one line, no traceback
    (bad / TRAINER).write_text("not a safetensors file")
    with pytest.raises(InfoscrubError, match="not a readable trainer state"):
        read_trainer_state(bad / TRAINER)
    write_trainer_state(bad / TRAINER, {k: torch.full_like(v, float("nan")) for k, v in disc.items()}, info)
    with pytest.raises(InfoscrubError, match="non-finite"):
        read_trainer_state(bad / TRAINER)
    save_weights(bad / TRAINER, {"discriminator": disc}, {"kind": "adversary"})
    with pytest.raises(InfoscrubError, match="not an infoscrub trainer state"):
        read_trainer_state(bad / TRAINER)


def test_round_refuses_an_output_folder_that_holds_a_round(first_round, data_root, capsys):
    out, _ = first_round
    code = main(["train", "round", "--data", str(data_root), "--test-data", str(data_root), "--out", str(out),
                 "--fresh", "--device", "cpu", *TINY_ROUND])
    assert code == 2 and "already holds a round" in capsys.readouterr().err


def test_keep_rule():
    old = {"inversion_accuracy_mean": 0.9, "utility": 0.85}
    assert is_better({"inversion_accuracy_mean": 0.8, "utility": 0.84}, old)[0]
    assert not is_better({"inversion_accuracy_mean": 0.95, "utility": 0.9}, old)[0]
    assert not is_better({"inversion_accuracy_mean": 0.5, "utility": 0.79}, old)[0]
    assert is_better({"inversion_accuracy_mean": 0.99, "utility": 0.81}, None)[0]
    assert not is_better({"utility": 0.9}, None)[0]


def test_keep_rule_guards_realism():
    """A round that hides more by wrecking the photos is refused, and the reason says which rule."""
    scale = {"unedited": 1.0, "noise": 11.0}  # the margin is 0.1 of 11 - 1 = 1.0
    old = {"inversion_accuracy_mean": 0.9, "utility": 0.85, "realism": {**scale, "inverted": 3.0}}
    within = {"inversion_accuracy_mean": 0.8, "utility": 0.85, "realism": {**scale, "inverted": 3.9}}
    wrecked = {"inversion_accuracy_mean": 0.5, "utility": 0.85, "realism": {**scale, "inverted": 4.2}}
    assert is_better(within, old)[0]
    keep, why = is_better(wrecked, old)
    assert not keep and why.startswith("realism rule") and "4.2" in why
    keep, why = is_better({"inversion_accuracy_mean": 0.5, "utility": 0.85}, old)
    assert not keep and "no realism measurement" in why
    # the privacy and utility rules come first and say so
    assert is_better({**wrecked, "utility": 0.7}, old)[1].startswith("utility rule")
    assert is_better({**within, "inversion_accuracy_mean": 0.95}, old)[1].startswith("privacy rule")
    # a kept state measured before realism was: compared on privacy and utility only
    assert is_better(wrecked, {"inversion_accuracy_mean": 0.9, "utility": 0.85})[0]


def test_keep_replaces_one_set_of_files(first_round, tmp_path, capsys):
    out, metrics = first_round
    state, weights = tmp_path / "state", tmp_path / "weights"
    target = StatePaths.repository(state, weights)
    kept, why = keep_round(out, target, force=True)  # tiny models have poor utility: forced
    assert kept
    assert sorted(p.name for p in weights.iterdir()) == ["attacker.safetensors", "editor.safetensors"]
    assert sorted(p.name for p in state.iterdir()) == ["heldout_adversary.safetensors", "metrics.json",
                                                       "trainer.safetensors"]
    # a worse round leaves the state alone
    worse = tmp_path / "worse"
    worse.mkdir()
    for p in out.iterdir():
        (worse / p.name).write_bytes(p.read_bytes())
    (worse / "metrics.json").write_text(json.dumps({**metrics, "inversion_accuracy_mean": 1.0, "utility": 0.99}))
    (state / "metrics.json").write_text(json.dumps({**metrics, "inversion_accuracy_mean": 0.5, "utility": 0.9}))
    code = main(["train", "keep", str(worse), "--state-dir", str(state), "--weights-dir", str(weights)])
    assert code == 0 and "kept the old state" in capsys.readouterr().out
    assert json.loads((state / "metrics.json").read_text())["inversion_accuracy_mean"] == 0.5
    assert not list(state.glob(".*.tmp")) and not list(weights.glob(".*.tmp"))


def test_until_is_the_next_such_time_of_day():
    import datetime as dt

    from infoscrub.cli.train_cmd import parse_until

    now = dt.datetime(2026, 12, 5, 22, 50).timestamp()
    assert parse_until("23:10", now) == dt.datetime(2026, 12, 5, 23, 10).timestamp()
    assert parse_until("01:05", now) == dt.datetime(2026, 12, 6, 1, 5).timestamp()
    with pytest.raises(InfoscrubError, match="not a time of day"):
        parse_until("25:00", now)


def test_a_round_with_an_end_time_trains_until_the_time_left(data_root, tmp_path):
    import time

    until = time.strftime("%H:%M:%S", time.localtime(time.time() + 3600))
    metrics = run_round(data_root, tmp_path / "r", "--fresh", "--state-dir", str(tmp_path / "none"),
                        "--until", until, "finish_seconds=3596")
    log = (tmp_path / "r" / "round.log").read_text()
    assert f"until {until}" in log and "kept for the evaluation" in log
    assert 0 <= metrics["config"]["seconds"] <= 4  # what was left after the attackers, never more
    assert seconds_until(1000.0, 300.0, now=600.0) == 100.0
    assert seconds_until(1000.0, 300.0, now=900.0) == 0.0  # late: evaluate at once


def test_the_cpu_round_fixes_the_cpu_model(capsys, tmp_path):
    code = main(["train", "round", "--data", "x", "--test-data", "x", "--out", str(tmp_path / "o"), "--device", "cpu",
                 "--state-dir", str(tmp_path / "none"), "--print-config"])
    assert code == 0
    cfg = json.loads(capsys.readouterr().out)
    s1 = cfg["stage1"]
    assert s1["data"]["image_size"] == 64 and s1["run"]["bf16_cpu"] is True and s1["run"]["compile"] is True
    assert cfg["stage2"]["run"]["compile"] is False  # compiled, Stage II ran slower on the CPU
    assert (s1["generator"]["width"], s1["discriminator"]["width"]) == (32, 32)
    assert 64 // 2 ** s1["discriminator"]["layers"] > 1  # the attribute head never reduces to 1x1


def test_print_config_shows_the_round_settings(capsys, tmp_path):
    assert main(["train", "round", "--data", "x", "--test-data", "y", "--out", str(tmp_path / "o"),
                 "--state-dir", str(tmp_path / "none"), "--print-config", "seconds=60"]) == 0
    cfg = json.loads(capsys.readouterr().out)
    assert cfg["seconds"] == 60 and cfg["stage1"]["generator"]["skips"] >= 0
    assert cfg == json.loads(json.dumps(config_to_dict(build_round_config(["seconds=60"], None))))


def test_round_metrics_reads_the_typed_summary_by_name():
    from types import SimpleNamespace

    from infoscrub.evaluation.summary import EvaluationSummary, mean_tree
    from infoscrub.rounds.measure import round_metrics
    from infoscrub.rounds.round import RoundConfig

    def entry(acc: float, after: float | None) -> dict:
        obfuscation = None if after is None else {"all": {"n": 4, "entropy": {"real": 0.2, "ours": after,
                                                                               "gain": after - 0.2}}}
        return {"n": 4, "inversion": {"label_free": {"correct": {"acc": acc}, "all": {"acc": acc + 0.1}}},
                "obfuscation": obfuscation, "utility": {"attributes": ["Young"], "real": 0.9, "label_free": 0.8},
                "fidelity": {"label_free": {"l1": 0.05}}, "adversary": {"accuracy": acc + 0.5}}

    per = {"Male": entry(0.1, 0.8), "Smiling": entry(0.3, None)}
    summary = EvaluationSummary(["Male", "Smiling"], ["label_free", "obfuscated"], per, mean_tree(list(per.values())))
    rnd = SimpleNamespace(info={"rounds": 2, "images_seen": 40, "stage2_images_seen": 8, "steps": 5},
                          images={"stage1": 20}, timings={"stage1": 2.0}, cfg=RoundConfig())
    m = round_metrics(rnd, summary, "cpu")
    assert m["inversion_accuracy"] == {"Male": 0.1, "Smiling": 0.3}
    assert m["inversion_accuracy_mean"] == pytest.approx(0.2) and m["inversion_accuracy_all_mean"] == pytest.approx(0.3)
    assert m["entropy_bits"]["before"] == 0.2 and m["entropy_bits"]["after"] == 0.8
    assert m["entropy_bits"]["per_attribute"] == {"Male": {"real": 0.2, "ours": 0.8, "gain": pytest.approx(0.6)},
                                                  "Smiling": None}
    assert m["utility"] == 0.8 and m["utility_unedited"] == 0.9 and m["l1"] == 0.05 and m["l1_obfuscated"] is None
    assert m["heldout_accuracy_real"] == {"Male": 0.6, "Smiling": 0.8}
    assert m["images_per_s"] == {"stage1": 10.0, "stage2": None}
