"""The evaluation protocol: metrics, FID math, paper numbers, the pass over the data, and
``infoscrub evaluate`` end to end on tiny untrained models and a synthetic CelebA folder."""

from __future__ import annotations

import json
import runpy
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import linalg

from infoscrub.attributes import CELEBA_ATTRIBUTES, DEFAULT_ATTRIBUTES
from infoscrub.data.balanced import balanced_indices
from infoscrub.data.batches import to_model_range
from infoscrub.data.imageset import ImageSet
from infoscrub.editing import EditsOneByOne
from infoscrub.errors import InfoscrubError
from infoscrub.evaluation import metrics as M
from infoscrub.evaluation import paper_numbers as P
from infoscrub.evaluation.fid import (
    ENV_WEIGHTS,
    FID_SKIPPED,
    GaussianStats,
    build_fid_inception,
    frechet_distance,
    resolve_fid_weights,
)
from infoscrub.evaluation.protocol import evaluate_inversion, evaluate_obfuscation
from infoscrub.inference import Attacker, Editor

torch.set_num_threads(2)

ATTRS = ["Eyeglasses", "Male", "Smiling"]

REPO = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------- metrics

def test_entropy_is_one_bit_at_half_and_zero_at_certainty():
    h = M.entropy_bits(torch.tensor([0.5, 0.0, 1.0, 0.11]))
    assert h[0].item() == pytest.approx(1.0)
    assert h[1].item() == 0.0 and h[2].item() == 0.0
    assert 0.0 < h[3].item() < 1.0


def test_inversion_rates_on_hand_made_predictions():
    labels = [1, 1, 1, 1, 0, 0, 0, 0]
    pred = [1, 0, 0, 0, 0, 1, 1, 1]  # 1 of 4 positives still positive, 1 of 4 negatives still negative
    r = M.inversion_rates(np.array(pred), np.array(labels))
    assert r == {"tpr": 0.25, "tnr": 0.25, "acc": 0.25, "n_pos": 4, "n_neg": 4}
    r = M.inversion_rates(torch.tensor([1, 1, 0]), torch.tensor([1, 0, 0]))
    assert r["tpr"] == 1.0 and r["tnr"] == 0.5 and r["acc"] == pytest.approx(2 / 3)
    empty = M.inversion_rates(np.array([True]), np.array([True]))
    assert empty["tnr"] is None and empty["n_neg"] == 0
    with pytest.raises(ValueError):
        M.inversion_rates(np.zeros(2), np.zeros(3))


def test_psnr_l1_and_ece():
    a = torch.zeros(2, 3, 4, 4)
    b = a.clone()
    b[0] += 0.2  # mse 0.04 on a range of 2: 10 log10(4 / 0.04) = 20 dB
    assert M.psnr(b, a)[0].item() == pytest.approx(20.0, abs=1e-4)
    assert M.psnr(b, a)[1].item() == pytest.approx(100.0)
    assert M.l1(b, a).tolist() == pytest.approx([0.2, 0.0])
    # perfectly calibrated: confidence 0.75 and 3 of 4 right
    p = np.array([0.75, 0.75, 0.75, 0.75])
    assert M.expected_calibration_error(p, [1, 1, 1, 0]) == pytest.approx(0.0)
    # always sure (p = 1) but right half the time: ECE 0.5
    assert M.expected_calibration_error(np.ones(4), [1, 0, 1, 0]) == pytest.approx(0.5)
    assert M.mean_or_none([None, 1.0, 3.0]) == 2.0 and M.mean_or_none([None]) is None


def test_balanced_subsets_are_balanced_and_seeded():
    rng = np.random.default_rng(1)
    positive = rng.random(500) < 0.2
    idx = balanced_indices(positive, per_class=30, seed=3, key="Male")
    assert len(idx) == 60 and positive[idx].sum() == 30 and len(set(idx.tolist())) == 60
    assert np.array_equal(idx, balanced_indices(positive, per_class=30, seed=3, key="Male"))
    assert not np.array_equal(idx, balanced_indices(positive, per_class=30, seed=4, key="Male"))
    assert not np.array_equal(idx, balanced_indices(positive, per_class=30, seed=3, key="Young"))
    whole = balanced_indices(positive, per_class=None, seed=0)
    assert positive[whole].sum() == (~positive[whole]).sum() == positive.sum()


# --------------------------------------------------------------------------- FID

def test_frechet_distance_matches_closed_forms():
    # 1-D: (m1 - m2)^2 + (s1 - s2)^2
    assert frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx(4.0 + 1.0)
    # diagonal covariances: the sum over dimensions
    v1, v2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(v1) - np.sqrt(v2)) ** 2).sum()
    assert frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2)) == pytest.approx(expected)
    # identical Gaussians, even singular ones: 0
    s = np.outer([1.0, 2.0, 0.0], [1.0, 2.0, 0.0])
    assert frechet_distance(mu1, s, mu1, s) == pytest.approx(0.0, abs=1e-9)
    # full covariances: the textbook formula with scipy's matrix square root
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    s1, s2 = a @ a.T + np.eye(5), b @ b.T + np.eye(5)
    m1, m2 = rng.normal(size=5), rng.normal(size=5)
    direct = ((m1 - m2) ** 2).sum() + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real)
    assert frechet_distance(m1, s1, m2, s2) == pytest.approx(direct, rel=1e-8)
    with pytest.raises(ValueError):
        frechet_distance([0.0, 1.0], np.eye(2), [0.0], np.eye(1))


def test_running_gaussian_stats_match_numpy():
    feats = np.random.default_rng(2).normal(size=(50, 6))
    stats = GaussianStats(6)
    stats.add(feats[:20])
    stats.add(feats[20:])
    mu, cov = stats.mean_cov()
    assert np.allclose(mu, feats.mean(0)) and np.allclose(cov, np.cov(feats, rowvar=False))


def test_missing_fid_weights_is_a_plain_skip(monkeypatch, tmp_path):
    monkeypatch.delenv(ENV_WEIGHTS, raising=False)
    assert resolve_fid_weights(None) is None
    assert FID_SKIPPED == "FID skipped: no InceptionV3 weights given (--fid-weights)"
    with pytest.raises(InfoscrubError, match="does not exist"):
        resolve_fid_weights(tmp_path / "missing.pth")
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"not a state dict")
    monkeypatch.setenv(ENV_WEIGHTS, str(weights))
    assert resolve_fid_weights(None) == weights
    pytest.importorskip("pytorch_fid")
    with pytest.raises(InfoscrubError, match="not a readable"):
        build_fid_inception(weights)


def test_fid_network_is_pytorch_fids_with_local_weights(tmp_path, monkeypatch):
    pfi = pytest.importorskip("pytorch_fid.inception")
    # A state dict of the FID network's shape (random values), as the real file would be.
    net = pfi._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    net.Mixed_5b, net.Mixed_5c = pfi.FIDInceptionA(192, 32), pfi.FIDInceptionA(256, 64)
    net.Mixed_5d = pfi.FIDInceptionA(288, 64)
    net.Mixed_6b, net.Mixed_6c = pfi.FIDInceptionC(768, 128), pfi.FIDInceptionC(768, 160)
    net.Mixed_6d, net.Mixed_6e = pfi.FIDInceptionC(768, 160), pfi.FIDInceptionC(768, 192)
    net.Mixed_7b, net.Mixed_7c = pfi.FIDInceptionE_1(1280), pfi.FIDInceptionE_2(2048)
    torch.save(net.state_dict(), tmp_path / "pt_inception-test.pth")

    def no_download(*args, **kwargs):
        raise AssertionError("tried to download")

    monkeypatch.setattr(pfi, "load_state_dict_from_url", no_download)
    model = build_fid_inception(tmp_path / "pt_inception-test.pth")
    assert pfi.load_state_dict_from_url is no_download  # put back after the build
    assert model.resize_input and model.normalize_input
    assert torch.equal(model.blocks[0][0].conv.weight, net.Conv2d_1a_3x3.conv.weight)
    from infoscrub.evaluation.fid import inception_features

    feats = inception_features(model, torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8))
    assert feats.shape == (2, 2048) and np.isfinite(feats).all()
    bad = {k: v for k, v in net.state_dict().items() if not k.startswith("fc.")}
    torch.save(bad, tmp_path / "bad.pth")
    with pytest.raises(InfoscrubError, match="does not fit"):
        build_fid_inception(tmp_path / "bad.pth")


# --------------------------------------------------------------------------- paper numbers

def test_paper_tables_agree_with_each_other():
    for metric in ("tpr", "tnr", "acc"):
        for method, row in P.PAPER_TABLE_1[metric].items():
            for a, v in row.items():
                assert P.PAPER_TABLE_A1[metric][method][a] == v, (metric, method, a)
    for group in ("positive", "negative"):
        for quantity in ("entropy", "p"):
            for row_name, row in P.PAPER_TABLE_4[group][quantity].items():
                for a, v in row.items():
                    a2 = P.paper_obfuscation(group, quantity, row_name, a)
                    assert a2 == v, (group, quantity, row_name, a)
    # Table 2's bi-directional row repeats Table A1's InfoScrub Acc to two decimals
    for a in DEFAULT_ATTRIBUTES:
        assert abs(P.PAPER_TABLE_2["bidirectional"][a] - P.PAPER_TABLE_A1["acc"]["InfoScrub"][a]) < 0.1
    # Table 3's first privacy is the mean of Table A1's Acc row (0.155)
    mean_acc = np.mean([P.PAPER_TABLE_A1["acc"]["InfoScrub"][a] for a in DEFAULT_ATTRIBUTES]) / 100
    assert mean_acc == pytest.approx(P.PAPER_TABLE_3[0]["privacy"], abs=5e-4)
    assert set(P.PAPER_TABLE_A1["acc"]["InfoScrub"]) == set(DEFAULT_ATTRIBUTES)


# --------------------------------------------------------------------------- the pass

def _image_set(n: int = 24, seed: int = 0) -> ImageSet:
    gen = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=gen)
    labels = (torch.rand(n, len(CELEBA_ATTRIBUTES), generator=gen) < 0.5).to(torch.uint8)
    labels[0], labels[1] = 1, 0
    return ImageSet(images, labels, [f"{i}.jpg" for i in range(n)], list(CELEBA_ATTRIBUTES), "celebahq", "test")


def _models(width: int = 8):
    editor = Editor.untrained(ATTRS, image_size=32, width=width, seed=1)
    torch.nn.init.normal_(editor.generator.to_residual.weight, std=0.1)  # make edits do something
    attacker = Attacker.untrained(list(CELEBA_ATTRIBUTES), image_size=32, seed=2)
    return editor, attacker


def test_shared_encoder_pass_gives_the_editors_own_edits():
    editor, _ = _models()
    x = to_model_range(_image_set(8).images)
    labels = torch.tensor([[1, 0, 1]] * 4 + [[0, 1, 0]] * 4, dtype=torch.float32)
    out, extras = editor.edit_paths(x, "Male", labels, ("label_free", "labelled", "obfuscated"))
    assert torch.allclose(out["label_free"], editor.edit(x, ["Male"]), atol=1e-5)
    assert torch.allclose(out["obfuscated"], editor.edit(x, ["Male"], "obfuscate"), atol=1e-5)
    rows = extras["labelled_rows"]
    full = editor.edit(x, ["Male"], labels=labels)
    assert torch.allclose(out["labelled"], full[rows], atol=1e-5)
    same = torch.ones(8, dtype=torch.bool)
    same[rows] = False
    assert torch.allclose(full[same], out["label_free"][same], atol=1e-5)  # readings agree: same image
    read = (editor.codes(x)[:, 1] > 0.5).float()
    assert torch.equal(extras["code_agrees"], read == labels[:, 1])


class _PlainEditor(EditsOneByOne):
    """An editor with only the public interface (as the baselines have)."""

    def __init__(self, inner):
        self.inner = inner
        self.attributes, self.alignment, self.image_size = inner.attributes, inner.alignment, inner.image_size
        self.device, self.can_obfuscate = inner.device, inner.can_obfuscate

    def edit(self, *args, **kwargs):
        return self.inner.edit(*args, **kwargs)


def test_evaluate_inversion_keys_and_generic_editors_agree():
    editor, attacker = _models()
    data = _image_set(24)
    fast = evaluate_inversion(editor, attacker, data, ["Male", "Smiling"], per_attribute=4, seed=0,
                              batch_size=5)
    plain = evaluate_inversion(_PlainEditor(editor), attacker, data, ["Male", "Smiling"], per_attribute=4,
                               seed=0, batch_size=5)
    for result in (fast, plain):
        assert {"privacy", "utility", "per_attribute", "mean", "privacy_all"} <= set(result)
        assert set(result["per_attribute"]) == {"Male", "Smiling"}
        assert result["utility"] is not None and 0.0 <= result["utility"] <= 1.0
        assert result["per_attribute"]["Male"]["n"] == 8
        assert result["per_attribute"]["Male"]["utility"]["attributes"] == ["Eyeglasses", "Smiling"]
        assert result["per_attribute"]["Male"]["obfuscation"] is None
    for a in ("Male", "Smiling"):
        for path in ("real", "label_free", "labelled"):
            assert fast["per_attribute"][a]["inversion"][path] == plain["per_attribute"][a]["inversion"][path]
        assert fast["per_attribute"][a]["fidelity"]["labelled"]["l1"] == pytest.approx(
            plain["per_attribute"][a]["fidelity"]["labelled"]["l1"], abs=1e-6)
    assert plain["per_attribute"]["Male"]["code_accuracy"] is None
    obf = evaluate_obfuscation(editor, attacker, data, ["Male"], per_attribute=4)
    assert obf["available"] and set(obf["per_attribute"]["Male"]) == {"positive", "negative", "all"}
    editor.mixer = None
    none = evaluate_obfuscation(editor, attacker, data, ["Male"], 4)
    assert none["available"] is False and "no Stage II mixer" in none["message"]
    with pytest.raises(InfoscrubError, match="unknown attribute"):
        evaluate_inversion(editor, attacker, data, ["Bald"], 4)


# --------------------------------------------------------------------------- end to end

def _save_models(tmp_path, attributes):
    from infoscrub.models import (
        GeneratorConfig,
        MixerConfig,
        ObfuscationMixer,
        UNetEditor,
    )
    from infoscrub.models.adversary import AdversaryConfig, build_adversary
    from infoscrub.storage.checkpoints import save_checkpoint

    torch.manual_seed(0)
    gen = UNetEditor(len(attributes), GeneratorConfig(width=8, max_channels=16))
    torch.nn.init.normal_(gen.to_residual.weight, std=0.05)
    mixer = ObfuscationMixer(len(attributes), MixerConfig(width=8, blocks=1))
    common = dict(attributes=attributes, alignment="celebahq", image_size=128, step=5)
    save_checkpoint(tmp_path / "stage1.pt", kind="stage1", models={"generator": gen},
                    config={"variant": "bidirectional", "generator": asdict(gen.cfg)}, **common)
    save_checkpoint(tmp_path / "stage2.pt", kind="stage2", models={"generator": gen, "mixer": mixer},
                    config={"generator": asdict(gen.cfg), "mixer": asdict(mixer.cfg)}, **common)
    adv_cfg = AdversaryConfig(width=8)
    save_checkpoint(tmp_path / "adversary.pt", kind="adversary", models={"adversary": build_adversary(40, adv_cfg)},
                    config={"model": asdict(adv_cfg)}, attributes=list(CELEBA_ATTRIBUTES),
                    alignment="celebahq", image_size=128, step=3)


def _cli_main(monkeypatch):
    from infoscrub import cli

    assert "infoscrub.cli.evaluate_cmd" in cli.COMMAND_MODULES
    return cli.main


@pytest.fixture(scope="module")
def celeba_folder(tmp_path_factory):
    import synthetic
    root = synthetic.make_celeba_folder(tmp_path_factory.mktemp("celeba"), n=40, size=128, seed=0)
    return root


def _both_classes_in_test(root) -> list[str]:
    from infoscrub.data.celeba import read_celeba_folder

    index = read_celeba_folder(root)
    test = index.split_indices("test")
    labels = index.labels[test]
    return [a for k, a in enumerate(index.attribute_names) if 0 < labels[:, k].sum() < len(test)]


def test_evaluate_end_to_end_stage2(tmp_path, monkeypatch, celeba_folder):
    monkeypatch.delenv(ENV_WEIGHTS, raising=False)
    usable = [a for a in DEFAULT_ATTRIBUTES if a in _both_classes_in_test(celeba_folder)]
    assert len(usable) >= 3
    model_attrs, targets = usable[:4], usable[:2]
    _save_models(tmp_path, model_attrs)
    main = _cli_main(monkeypatch)
    out = tmp_path / "eval"
    rc = main(["evaluate", "--checkpoint", str(tmp_path / "stage2.pt"), "--adversary", str(tmp_path / "adversary.pt"),
               "--data", str(celeba_folder), "--split", "test", "--out", str(out), "--per-attribute", "2",
               "--attributes", ",".join(targets), "--batch-size", "3", "--device", "cpu", "--quiet"])
    assert rc == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["format"] == "infoscrub-evaluation" and m["attributes"] == targets
    assert m["model"]["kind"] == "stage2" and m["model"]["steps"] == 5 and m["model"]["can_obfuscate"]
    assert m["fid"] is None and m["fid_info"]["message"] == FID_SKIPPED
    assert m["paths"] == ["label_free", "labelled", "obfuscated"]
    import hashlib

    assert m["adversary"]["sha256"] == hashlib.sha256((tmp_path / "adversary.pt").read_bytes()).hexdigest()
    for a in targets:
        entry = m["per_attribute"][a]
        assert entry["n"] == 4 and entry["n_pos"] == 2
        for path in ("real", "label_free", "labelled"):
            for subset in ("all", "correct"):
                assert set(entry["inversion"][path][subset]) == {"tpr", "tnr", "acc", "n_pos", "n_neg"}
        assert entry["inversion"]["real"]["all"]["n_pos"] == 2
        correct = entry["inversion"]["real"]["correct"]
        assert correct["acc"] in (None, 1.0)  # by construction
        for group in ("positive", "negative"):
            assert set(entry["obfuscation"][group]["entropy"]) == {"real", "ours", "gain"}
            assert 0.0 <= entry["obfuscation"][group]["entropy"]["ours"] <= 1.0
        assert set(entry["utility"]) >= {"attributes", "real", "label_free", "labelled", "obfuscated"}
        assert entry["fidelity"]["label_free"]["l1"] > 0 and entry["fidelity"]["obfuscated"]["psnr"] > 0
    assert "privacy" in m and "utility" in m and m["utility"] is not None
    report = (out / "report.md").read_text()
    for heading in ("Table 1 / A1", "Table 2", "Table 3", "Table 4 / A2", "Utility", "Fidelity", "FID skipped"):
        assert heading in report
    assert "Paper: StarGAN" in report and "Paper: IcGAN" in report
    for fig in ("hist_p.png", "hist_entropy.png", "scatter_inversion.png", "scatter_obfuscation.png",
                f"samples/{targets[0]}.png"):
        assert (out / fig).stat().st_size > 1000, fig
        assert fig in m["figures"]


def test_evaluate_adaptive_end_to_end(tmp_path, monkeypatch, celeba_folder, capsys):
    """--adaptive: the attackers who know infoscrub, per policy and label budget, in
    metrics.json, report.md and the command's summary."""
    monkeypatch.delenv(ENV_WEIGHTS, raising=False)
    usable = [a for a in DEFAULT_ATTRIBUTES if a in _both_classes_in_test(celeba_folder)]
    _save_models(tmp_path, usable[:3])
    main = _cli_main(monkeypatch)
    out = tmp_path / "eval_adaptive"
    rc = main(["evaluate", "--checkpoint", str(tmp_path / "stage2.pt"), "--adversary", str(tmp_path / "adversary.pt"),
               "--data", str(celeba_folder), "--out", str(out), "--per-attribute", "1", "--attributes", usable[0],
               "--device", "cpu", "--quiet", "--adaptive", "--adaptive-steps", "2", "--adaptive-budgets", "5,all",
               "--adaptive-policy", "invert", "--adaptive-policy", "obfuscate:strength=0.5",
               "--adaptive-sees-strength"])
    assert rc == 0
    m = json.loads((out / "metrics.json").read_text())
    adaptive = m["adaptive"]
    assert adaptive["attributes"] == [usable[0]] and adaptive["attacker"]["steps"] == 2
    assert [e["name"] for e in adaptive["policies"]] == ["invert", "obfuscate, strength U[0.5, 1]"]
    plain, randomised = adaptive["policies"]
    assert list(plain["adaptive"]) == ["5", "all"] and plain["adaptive"]["5"]["labelled_faces"] == 5
    assert "sees_strength" not in plain  # its strength is the same for every face: nothing to see
    assert list(randomised["adaptive"]) == ["all"]  # a defence meets the attacker with every label
    for entry in (plain, randomised):
        assert entry["adaptive"]["all"]["labelled_faces"] == adaptive["train_faces"] > 5
    for table in (plain["fixed"], plain["adaptive"]["all"]["scrubbed"], randomised["sees_strength"]["scrubbed"]):
        assert 0.0 <= table[usable[0]]["accuracy"] <= 1.0
    assert m["seconds"]["adaptive"] > 0
    assert not [p for p in out.iterdir() if p.name.startswith("adaptive-")]  # its work folder is gone
    report = (out / "report.md").read_text()
    assert "## The adaptive attacker (`--adaptive`)" in report and "### obfuscate, strength U[0.5, 1]" in report
    assert "adaptive, given the strength" in report
    assert "adaptive attacker, invert: accuracy" in capsys.readouterr().out
    # the audit's tables (docs/privacy.md) come from the same record, by its script
    doc = tmp_path / "privacy.md"
    doc.write_text((REPO / "docs" / "privacy.md").read_text())
    script = runpy.run_path(str(REPO / "scripts" / "privacy_tables.py"))
    assert script["main"]([str(out), "--doc", str(doc)]) == 0
    audit = doc.read_text()
    assert audit.startswith("# Privacy audit") and "## Regenerating the tables" in audit  # the prose stays
    assert "### 2. The adaptive attacker (knows infoscrub)" in audit and "#### obfuscate, strength U[0.5, 1]" in audit
    assert "Not measured in this evaluation (`evaluate --album FOLDER`)" in audit
    assert f"| {usable[0]} |" in audit
    assert script["main"]([str(tmp_path / "nowhere"), "--doc", str(doc)]) == 2


@pytest.mark.parametrize("args, words", [
    (["--adaptive-policy", "blur"], "unknown mode"),
    (["--adaptive-policy", "invert:speed=2"], "keys strength, extra, noise"),
    (["--adaptive-policy", "invert@strong"], "not a strength"),
    (["--adaptive-budgets", "ten"], "numbers of labelled faces"),
    (["--adaptive-steps", "0"], "at least 1"),
])
def test_evaluate_adaptive_refuses_bad_settings(tmp_path, monkeypatch, celeba_folder, capsys, args, words):
    usable = [a for a in DEFAULT_ATTRIBUTES if a in _both_classes_in_test(celeba_folder)]
    _save_models(tmp_path, usable[:3])
    main = _cli_main(monkeypatch)
    rc = main(["evaluate", "--checkpoint", str(tmp_path / "stage2.pt"), "--adversary", str(tmp_path / "adversary.pt"),
               "--data", str(celeba_folder), "--out", str(tmp_path / "e"), "--device", "cpu", "--quiet",
               "--adaptive", *args])
    assert rc == 2 and words in capsys.readouterr().err
    assert not (tmp_path / "e" / "metrics.json").exists()


def test_evaluate_stage1_says_it_cannot_obfuscate(tmp_path, monkeypatch, celeba_folder, capsys):
    monkeypatch.delenv(ENV_WEIGHTS, raising=False)
    usable = [a for a in DEFAULT_ATTRIBUTES if a in _both_classes_in_test(celeba_folder)]
    _save_models(tmp_path, usable[:3])
    main = _cli_main(monkeypatch)
    out = tmp_path / "eval1"
    rc = main(["evaluate", "--checkpoint", str(tmp_path / "stage1.pt"), "--adversary", str(tmp_path / "adversary.pt"),
               "--data", str(celeba_folder), "--out", str(out), "--per-attribute", "1",
               "--attributes", usable[0], "--device", "cpu", "--quiet"])
    assert rc == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["model"]["variant"] == "bidirectional" and not m["obfuscation_available"]
    assert m["per_attribute"][usable[0]]["obfuscation"] is None
    report = (out / "report.md").read_text()
    assert "no Stage II mixer" in report and "FID skipped: no InceptionV3 weights given (--fid-weights)" in report
    assert not (out / "scatter_obfuscation.png").exists()
    # a missing file is a one-line error, exit 2
    rc = main(["evaluate", "--checkpoint", str(tmp_path / "nope.pt"), "--adversary", str(tmp_path / "adversary.pt"),
               "--data", str(celeba_folder), "--out", str(out), "--quiet"])
    assert rc == 2 and "does not exist" in capsys.readouterr().err


def test_a_new_metric_is_one_function_and_one_line(tmp_path, monkeypatch):
    from infoscrub.evaluation.protocol import run_evaluation
    from infoscrub.evaluation.registry import METRICS, Metric

    def mean_p_before(run, col, t):
        return float(run.p["real"][:, t].mean())

    monkeypatch.setitem(METRICS, "mean_p_before", Metric("mean_p_before", mean_p_before,
                                                         report=lambda summary, record: ["## Mean p before", ""]))
    editor, attacker = _models()
    metrics = run_evaluation(editor, attacker, _image_set(24), tmp_path / "eval", ["Male"], per_attribute=4,
                             progress=False)
    assert 0.0 <= metrics["per_attribute"]["Male"]["mean_p_before"] <= 1.0
    assert metrics["mean"]["mean_p_before"] == metrics["per_attribute"]["Male"]["mean_p_before"]
    assert "## Mean p before" in (tmp_path / "eval" / "report.md").read_text()


def test_evaluation_after_sharing_channels(tmp_path):
    from infoscrub.evaluation.protocol import run_evaluation

    editor, attacker = _models()
    metrics = run_evaluation(editor, attacker, _image_set(24), tmp_path / "eval", ["Male"], per_attribute=4,
                             progress=False, channels=("jpeg75", "down2"))
    shared = metrics["per_attribute"]["Male"]["reshare"]
    assert set(shared) == {"jpeg75", "down2"}
    for entry in shared.values():
        assert 0 <= entry["real_accuracy"] <= 1
        assert set(entry["inversion"]) == {"all", "correct"} and 0 <= entry["inversion"]["correct"]["acc"] <= 1
        assert 0 <= entry["entropy"]["ours"] <= 1  # the stand-in model has a mixer
    assert set(metrics["privacy_shared"]) == {"jpeg75", "down2"}
    report = (tmp_path / "eval" / "report.md").read_text()
    assert "## Privacy after sharing" in report and "jpeg75: JPEG at quality 75" in report
    plain = run_evaluation(editor, attacker, _image_set(24), tmp_path / "plain", ["Male"], per_attribute=4,
                           progress=False)
    assert plain["per_attribute"]["Male"]["reshare"] is None and plain["privacy_shared"] == {}
    assert "## Privacy after sharing" not in (tmp_path / "plain" / "report.md").read_text()


# --------------------------------------------------------------------------- identity

class _MeanColourEmbedder:
    """A stand-in for dlib's embedder with a known response: the mean colour of the crop."""

    def __init__(self):
        self.calls = 0

    def embed(self, crops, alignment):
        self.calls += len(crops)
        return np.stack([np.asarray(c, np.float64).reshape(-1, 3).mean(0) / 255.0 for c in crops])


def test_identity_check_measures_each_path_and_another_person(tmp_path):
    from infoscrub.evaluation.collect import CollectOptions, collect
    from infoscrub.evaluation.identity_check import IdentityCheck
    from infoscrub.evaluation.summary import summarise

    editor, attacker = _models()
    data = _image_set(24)
    check = IdentityCheck(_MeanColourEmbedder(), data, faces=3, threshold=0.05)
    col = collect(editor, attacker, data, CollectOptions(["Male", "Smiling"], per_attribute=4, batch_size=5,
                                                         progress=False), identity=check)
    run = col.runs["Male"]
    assert set(run.identity) == {"different_person", "label_free", "obfuscated"}
    assert all(len(d) == 3 for d in run.identity.values())
    # the baseline is the distance to the next image of the set, as documented
    first = data.images[int(run.indices[0])].permute(1, 2, 0).numpy()
    following = data.images[(int(run.indices[0]) + 1) % len(data)].permute(1, 2, 0).numpy()
    expected = np.linalg.norm(check.embedder.embed([first], "") - check.embedder.embed([following], ""))
    assert run.identity["different_person"][0] == pytest.approx(expected, rel=1e-5)
    summary = summarise(col).per_attribute["Male"]["identity"]
    assert summary["n"] == 3 and summary["threshold"] == 0.05
    d = run.identity["label_free"]
    assert summary["label_free"] == {"verified": pytest.approx(float((d < 0.05).mean())),
                                     "distance": pytest.approx(float(d.mean()))}
    assert col.seconds["identity"] >= 0
    plain = collect(editor, attacker, data, CollectOptions(["Male"], per_attribute=4, progress=False))
    assert plain.runs["Male"].identity is None and summarise(plain).per_attribute["Male"]["identity"] is None


def test_identity_section_in_the_report(tmp_path, monkeypatch):
    from infoscrub.evaluation import protocol

    editor, attacker = _models()
    monkeypatch.setattr("infoscrub.faces.identity.IdentityEmbedder", _MeanColourEmbedder)
    metrics = protocol.run_evaluation(editor, attacker, _image_set(24), tmp_path / "eval", ["Male"],
                                      per_attribute=4, progress=False, identity_faces=2)
    assert metrics["identity_faces"] == 2 and metrics["mean"]["identity"]["label_free"]["distance"] >= 0
    report = (tmp_path / "eval" / "report.md").read_text()
    assert "## Identity: still the same person?" in report and "another person (baseline)" in report
    protocol.run_evaluation(editor, attacker, _image_set(24), tmp_path / "plain", ["Male"], per_attribute=4,
                            progress=False)
    assert "## Identity" not in (tmp_path / "plain" / "report.md").read_text()


# metrics.json's structure, pinned: every leaf of an entry under its slash-joined path (the
# flat metric names of ``EvaluationSummary``), with every metric measured (channels, identity).
RATES = ("tpr", "tnr", "acc", "n_pos", "n_neg")
GROUP = ("n", *(f"{q}/{row}" for q in ("entropy", "p") for row in ("real", "ours", "gain")))
ENTRY = ["n", "n_pos", "n_neg",
         *(f"inversion/{path}/{subset}/{r}" for path in ("real", "label_free", "labelled")
           for subset in ("all", "correct") for r in RATES),
         "inversion/n_correct",
         *(f"obfuscation/{group}/{k}" for group in ("positive", "negative", "all") for k in GROUP),
         "utility/attributes", "utility/real", "utility/label_free", "utility/labelled", "utility/obfuscated",
         "identity/n", "identity/threshold",
         *(f"identity/{face}/{k}" for face in ("different_person", "label_free", "obfuscated")
           for k in ("verified", "distance")),
         *(f"fidelity/{path}/{k}" for path in ("label_free", "labelled", "obfuscated") for k in ("l1", "psnr")),
         "adversary/accuracy", "adversary/ece",
         "reshare/jpeg75/real_accuracy",
         *(f"reshare/jpeg75/inversion/{subset}/{r}" for subset in ("all", "correct") for r in RATES),
         "reshare/jpeg75/entropy/real", "reshare/jpeg75/entropy/ours",
         "code_accuracy"]
TOP = ["format", "version", "model", "adversary", "data", "attributes", "paths", "per_attribute", "mean",
       "privacy", "privacy_all", "privacy_shared", "utility", "fid", "fid_info", "seconds", "identity_faces",
       "obfuscation_available", "obfuscation_message", "fid_weights", "throughput", "figures"]


def _leaf_names(tree, prefix: str = "") -> list[str]:
    if not isinstance(tree, dict):
        return [prefix]
    return [name for key, value in tree.items() for name in _leaf_names(value, f"{prefix}/{key}" if prefix else key)]


def test_metrics_json_keeps_its_key_structure(tmp_path, monkeypatch):
    from infoscrub.evaluation.protocol import run_evaluation

    monkeypatch.setattr("infoscrub.faces.identity.IdentityEmbedder", _MeanColourEmbedder)
    editor, attacker = _models()
    run_evaluation(editor, attacker, _image_set(24), tmp_path / "eval", ["Male"], per_attribute=4,
                   progress=False, channels=("jpeg75",), identity_faces=2)
    m = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert list(m) == TOP
    assert _leaf_names(m["per_attribute"]["Male"]) == ENTRY
    # the means drop counts and name lists
    dropped = [n for n in ENTRY if n.rsplit("/", 1)[-1] in ("n", "attributes") or n.rsplit("/", 1)[-1].startswith("n_")]
    assert _leaf_names(m["mean"]) == [n for n in ENTRY if n not in dropped]
    assert list(m["fid_info"]) == ["value", "obfuscated", "message", "n_real", "n_edited"]
    assert list(m["seconds"]) == ["adversary_real", "edit_and_judge", "identity", "figures"]
    assert list(m["privacy_shared"]) == ["jpeg75"]
    # the typed summary reads metrics.json back, by the same names
    from infoscrub.evaluation.summary import EvaluationSummary

    summary = EvaluationSummary.from_json(m)
    assert summary.as_json() == {key: m[key] for key in summary.as_json()}
    assert summary.value("inversion/label_free/correct/acc") == m["privacy"] is not None
    psnr = m["per_attribute"]["Male"]["fidelity"]["obfuscated"]["psnr"]
    assert summary.per("fidelity/obfuscated/psnr") == {"Male": psnr}
    assert summary.value("inversion/real/all/n_pos", "Male") == 4 and summary.value("inversion/real/all/n_pos") is None


HQ = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "celebahq128"


@pytest.mark.skipif(not HQ.is_dir(), reason="needs ../shared/data/celebahq128")
def test_identity_on_real_faces_an_unchanged_face_verifies_and_another_person_does_not():
    from infoscrub.data import load_image_set
    from infoscrub.evaluation.collect import CollectOptions, collect
    from infoscrub.evaluation.identity_check import IdentityCheck
    from infoscrub.evaluation.summary import summarise
    from infoscrub.faces import identity

    if not identity.available():
        pytest.skip("the identity extra is not installed")
    data = load_image_set(HQ, "test", 128, limit=64)
    editor = Editor.untrained(ATTRS, image_size=128, width=8)  # a zero residual: edits are the input
    attacker = Attacker.untrained(list(CELEBA_ATTRIBUTES), image_size=128)
    col = collect(editor, attacker, data, CollectOptions(["Male"], per_attribute=6, progress=False),
                  identity=IdentityCheck(identity.IdentityEmbedder(), data, faces=6))
    summary = summarise(col).per_attribute["Male"]["identity"]
    assert summary["label_free"]["verified"] == 1.0 and summary["label_free"]["distance"] < 0.2
    assert summary["different_person"]["verified"] <= 1 / 6 and summary["different_person"]["distance"] > 0.6


def test_evaluate_album_runs_the_multi_photo_attacker(tmp_path, monkeypatch, celeba_folder, capsys):
    import synthetic

    monkeypatch.delenv(ENV_WEIGHTS, raising=False)
    usable = [a for a in DEFAULT_ATTRIBUTES if a in _both_classes_in_test(celeba_folder)]
    _save_models(tmp_path, usable[:3])
    people = synthetic.make_celeba_folder(tmp_path / "people", n=40, size=128, seed=1)
    (people / "identity_CelebA.txt").write_text("".join(f"{i + 1:06d}.jpg {i % 4}\n" for i in range(40)))
    main = _cli_main(monkeypatch)
    out = tmp_path / "eval_album"
    rc = main(["evaluate", "--checkpoint", str(tmp_path / "stage2.pt"), "--adversary", str(tmp_path / "adversary.pt"),
               "--data", str(celeba_folder), "--out", str(out), "--per-attribute", "2", "--attributes", usable[0],
               "--device", "cpu", "--quiet", "--album", str(people), "--album-draws", "5"])
    assert rc == 0
    album = json.loads((out / "metrics.json").read_text())["album"]
    assert album["people"] == 4 and album["faces"] == 40 and album["ks"] == [1, 3, 10]
    assert album["conditions"] == ["original", "per_photo_invert", "album_invert", "per_photo_obfuscate",
                                   "album_obfuscate"]
    for condition in album["conditions"]:
        entry = album["mean"][condition]["k"]["10"]
        assert 0.0 <= entry["accuracy"] <= 1.0 and 0.0 <= entry["entropy_bits"] <= 1.0
        assert album["mean"][condition]["contradicting"] is not None
    assert "## The multi-photo attacker" in (out / "report.md").read_text()
    assert "album attacker, accuracy over 10 photos: original" in capsys.readouterr().out
