"""``infoscrub compare``: Table A1 / Table 2 / summary from several evaluations' metrics.json.

The rendering tests use fabricated metrics.json files (the structure documented in
``infoscrub.evaluation.report``); the end-to-end test trains tiny StarGAN and IcGAN models,
runs the real ``infoscrub evaluate`` on them and compares the two."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
import torch

from infoscrub.evaluation.compare import build_comparison, find_metrics, render_comparison, write_comparison
from infoscrub.errors import InfoscrubError
from infoscrub.evaluation import paper_numbers as P

torch.set_num_threads(min(2, torch.get_num_threads()))

ATTRS = ["Eyeglasses", "Male", "Smiling"]


def _rates(tpr, tnr):
    return {"tpr": tpr, "tnr": tnr, "acc": (tpr + tnr) / 2, "n_pos": 10, "n_neg": 10}


def fake_metrics(kind: str, variant: str | None, acc: float, attrs=ATTRS, fid=None, seed=0) -> dict:
    """A minimal metrics.json of the documented structure: every attribute inverted with
    TPR = acc - 0.1, TNR = acc + 0.1 (label-free) and the labelled path 0.05 lower."""
    per = {}
    for k, a in enumerate(attrs):
        lf, lab = acc + 0.01 * k, acc + 0.01 * k - 0.05
        per[a] = {
            "n": 20, "n_pos": 10, "n_neg": 10,
            "inversion": {
                "real": {"all": _rates(0.9, 0.8), "correct": _rates(1.0, 1.0)},
                "label_free": {"all": _rates(lf, lf + 0.1), "correct": _rates(lf - 0.1, lf + 0.1)},
                "labelled": {"all": _rates(lab, lab + 0.1), "correct": _rates(lab - 0.1, lab + 0.1)},
                "n_correct": 17},
            "obfuscation": None,
            "utility": {"attributes": attrs, "real": 0.9, "label_free": 0.8, "labelled": 0.82},
            "fidelity": {"label_free": {"l1": 0.05, "psnr": 25.0}, "labelled": {"l1": 0.05, "psnr": 25.0}},
            "adversary": {"accuracy": 0.85, "ece": 0.05}, "code_accuracy": None,
        }
    return {
        "format": "infoscrub-evaluation", "version": 1,
        "model": {"checkpoint": f"runs/{kind}/checkpoint.pt", "kind": kind, "variant": variant, "steps": 100,
                  "attributes": attrs, "alignment": "celebahq", "image_size": 128, "can_obfuscate": False},
        "adversary": {"checkpoint": "runs/adversary/checkpoint.pt", "attributes": 40},
        "data": {"root": "data/celebahq128", "split": "test", "n_images": 2000, "n_union": 60,
                 "per_attribute": 10, "seed": seed},
        "attributes": attrs, "paths": ["label_free", "labelled"], "per_attribute": per,
        "mean": {"utility": {"real": 0.9, "label_free": 0.8, "labelled": 0.82},
                 "fidelity": {"label_free": {"l1": 0.05, "psnr": 25.0}, "labelled": {"l1": 0.05, "psnr": 25.0}}},
        "privacy": acc, "privacy_all": acc, "utility": 0.8, "fid": fid,
        "fid_info": {"value": fid, "obfuscated": None, "message": None if fid else "FID skipped", "n_real": 50,
                     "n_edited": 60},
    }


def _write_run(root: Path, name: str, metrics: dict, layout: str = "run") -> Path:
    folder = root / name
    target = folder / "eval" / "metrics.json" if layout == "run" else folder / "metrics.json"
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps(metrics))
    return folder if layout != "file" else target


def test_table_a1_layout_and_values(tmp_path):
    star = _write_run(tmp_path, "stargan", fake_metrics("stargan", None, 0.4, fid=20.0))
    ic = _write_run(tmp_path, "icgan", fake_metrics("icgan", None, 0.6), layout="eval")
    paths = write_comparison([str(star), str(ic)], tmp_path / "cmp")
    md = paths["markdown"].read_text()
    data = json.loads(paths["json"].read_text())
    assert data["attributes"] == ATTRS  # the paper's order
    a1 = data["table_a1"]["correct"]
    rows = [e["row"] for e in a1["acc"]]
    assert rows == ["Real", "StarGAN", "IcGAN", "Paper: IcGAN", "Paper: StarGAN", "Paper: InfoScrub"]
    assert a1["acc"][0]["values"] == [1.0, 1.0, 1.0]
    star_acc = a1["acc"][1]
    assert star_acc["values"] == pytest.approx([0.4, 0.41, 0.42]) and star_acc["mean"] == pytest.approx(0.41)
    assert a1["tpr"][1]["values"] == pytest.approx([0.3, 0.31, 0.32])
    assert a1["tnr"][2]["values"] == pytest.approx([0.7, 0.71, 0.72])
    assert a1["acc"][4]["values"] == [P.paper_inversion("acc", "StarGAN", a) for a in ATTRS]
    assert data["table_a1"]["all"]["acc"][0]["values"] == pytest.approx([0.85] * 3)
    assert all(not e["row"].startswith("Paper") for e in data["table_a1"]["all"]["acc"])
    assert data["table_2"] is None and "Table 2" not in md
    # markdown: TPR / TNR / Acc blocks, attributes as columns, paper numbers as printed
    assert "| Metric | Method | Eyeglasses | Male | Smiling | Mean |" in md
    assert "| TPR (%) | Real | 100.0 | 100.0 | 100.0 | 100.0 |" in md
    assert "| Acc (%) | Real |" in md and "| TNR (%) | Real |" in md
    assert "|  | StarGAN | 40.0 | 41.0 | 42.0 | 41.0 |" in md
    assert "|  | Paper: StarGAN | 5.0 | 39.3 | 3.6 |" in md
    summary = {s["row"]: s for s in data["summary"]}
    assert summary["StarGAN"]["fid"] == 20.0 and summary["StarGAN"]["paper_fid"] == 12.52
    assert summary["IcGAN"]["fid"] is None and summary["IcGAN"]["paper_fid"] is None
    assert summary["StarGAN"]["privacy"] == pytest.approx(0.41)
    assert "20.00 (60 images)" in md and "Warning" not in md


def test_ablation_table_when_variants_are_compared(tmp_path):
    sources = [str(_write_run(tmp_path, v, fake_metrics("stage1", v, acc)))
               for v, acc in (("bidirectional", 0.1), ("d_attr", 0.3), ("d_attr_at", 0.5))]
    sources.append(str(_write_run(tmp_path, "star", fake_metrics("stargan", None, 0.4))))
    c = build_comparison(sources)
    t2 = c["table_2"]
    assert [e["row"] for e in t2] == ["D_attr", "D_attr + AT", "InfoScrub", "Paper: D_attr",
                                      "Paper: D_attr + AT", "Paper: Ours (bi-directional)"]
    assert t2[0]["values"] == pytest.approx([0.3, 0.31, 0.32])
    assert t2[3]["values"] == [P.PAPER_TABLE_2["d_attr"][a] for a in ATTRS]
    md = render_comparison(c)
    assert "## Table 2" in md and "|  | D_attr + AT | 50.0 |" in md
    assert "| D_attr | 30.00 | 31.00 | 32.00 | 31.00 |" in md


def test_one_adversary_named_two_ways_is_one_protocol(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    relative, absolute = fake_metrics("stargan", None, 0.4), fake_metrics("icgan", None, 0.5)
    absolute["adversary"]["checkpoint"] = str(tmp_path / relative["adversary"]["checkpoint"])
    absolute["data"]["root"] = str(tmp_path / "data" / ".." / relative["data"]["root"])
    rows = [_write_run(tmp_path, n, m) for n, m in (("a", relative), ("b", absolute))]
    assert build_comparison([str(r) for r in rows])["protocol_differences"] == []
    # recorded content hashes decide when every evaluation has one: another file differs
    relative["adversary"]["sha256"], absolute["adversary"]["sha256"] = "1" * 64, "2" * 64
    rows = [_write_run(tmp_path, n, m) for n, m in (("c", relative), ("d", absolute))]
    notes = build_comparison([str(r) for r in rows])["protocol_differences"]
    assert len(notes) == 1 and notes[0].startswith("adversary.checkpoint differs")


def test_labelled_path_names_and_protocol_warning(tmp_path):
    a = _write_run(tmp_path, "a", fake_metrics("stargan", None, 0.4), layout="file")
    b = _write_run(tmp_path, "b", fake_metrics("stargan", None, 0.5, seed=1), layout="file")
    c = build_comparison([f"long={a}", f"short={b}"], path="labelled")
    assert [r["name"] for r in c["runs"]] == ["long", "short"]
    assert c["table_a1"]["correct"]["acc"][1]["values"] == pytest.approx([0.35, 0.36, 0.37])
    assert c["protocol_differences"] and "data.seed" in c["protocol_differences"][0]
    assert "not comparable" in render_comparison(c)
    # two unnamed runs of one method get their folder names
    c = build_comparison([str(a), str(b)])
    assert [r["name"] for r in c["runs"]] == ["StarGAN [a]", "StarGAN [b]"]


def test_different_attribute_sets_leave_gaps(tmp_path):
    a = _write_run(tmp_path, "a", fake_metrics("stargan", None, 0.4, attrs=["Male", "Smiling"]))
    b = _write_run(tmp_path, "b", fake_metrics("icgan", None, 0.6, attrs=["Eyeglasses", "Male"]))
    c = build_comparison([str(a), str(b)])
    assert c["attributes"] == ["Eyeglasses", "Male", "Smiling"]
    star = c["table_a1"]["correct"]["acc"][1]
    assert star["values"][0] is None and star["mean"] is None
    assert c["table_a1"]["correct"]["acc"][0]["values"] == [1.0, 1.0, 1.0]  # Real filled from either run
    assert "| – |" in render_comparison(c) or "– |" in render_comparison(c)


def test_bad_sources_are_one_line_errors(tmp_path):
    with pytest.raises(InfoscrubError, match="no metrics.json"):
        find_metrics(tmp_path / "missing")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(InfoscrubError, match="not an infoscrub evaluation"):
        build_comparison([str(bad)])
    bad.write_text("{not json")
    with pytest.raises(InfoscrubError, match="cannot read"):
        build_comparison([str(bad)])
    with pytest.raises(InfoscrubError, match="edit path"):
        build_comparison([str(bad)], path="obfuscated")


def _main_with(monkeypatch, *modules):
    import infoscrub.cli as cli

    assert all(m in cli.COMMAND_MODULES for m in modules)
    return cli.main


def test_cli_compare(tmp_path, monkeypatch, capsys):
    main = _main_with(monkeypatch, "infoscrub.cli.compare_cmd")
    a = _write_run(tmp_path, "a", fake_metrics("stargan", None, 0.4))
    assert main(["compare", str(a), "--out", str(tmp_path / "cmp")]) == 0
    assert "comparison.md" in capsys.readouterr().out
    assert (tmp_path / "cmp" / "comparison.json").is_file()
    assert main(["compare", str(tmp_path / "nothing"), "--out", str(tmp_path / "cmp")]) == 2
    assert "no metrics.json" in capsys.readouterr().err


def test_real_evaluate_on_tiny_baselines_then_compare(tmp_path, monkeypatch):
    """Train tiny StarGAN and IcGAN, evaluate both with the real protocol, compare them."""
    import synthetic
    from infoscrub.attributes import CELEBA_ATTRIBUTES, DEFAULT_ATTRIBUTES
    from infoscrub.data.celeba import read_celeba_folder
    from infoscrub.models.adversary import AdversaryConfig, build_adversary
    from infoscrub.storage.checkpoints import save_checkpoint

    monkeypatch.delenv("INFOSCRUB_FID_WEIGHTS", raising=False)
    root = synthetic.make_celeba_folder(tmp_path / "celeba", n=40, size=32, seed=0)
    index = read_celeba_folder(root)
    test = index.labels[index.split_indices("test")]
    usable = [a for a in DEFAULT_ATTRIBUTES
              if 0 < test[:, index.attribute_names.index(a)].sum() < len(test)][:2]
    assert len(usable) == 2
    torch.manual_seed(0)
    adv_cfg = AdversaryConfig(width=8)
    save_checkpoint(tmp_path / "adversary.pt", kind="adversary", models={"adversary": build_adversary(40, adv_cfg)},
                    config={"model": asdict(adv_cfg)}, attributes=list(CELEBA_ATTRIBUTES),
                    alignment="celebahq", image_size=32, step=1)
    main = _main_with(monkeypatch, "infoscrub.cli.evaluate_cmd", "infoscrub.cli.compare_cmd")
    common = ["--data", str(root), "--steps", "2", "--batch-size", "4", "--device", "cpu",
              "--attributes", ",".join(usable), "data.image_size=32", "run.progress=false"]
    assert main(["train", "stargan", "--out", str(tmp_path / "stargan"), *common, "model.g_conv_dim=8",
                 "model.d_conv_dim=8", "model.g_repeat_num=1", "model.d_repeat_num=5"]) == 0
    assert main(["train", "icgan", "--out", str(tmp_path / "icgan"), *common, "model.z_dim=8",
                 "model.g_conv_dim=8", "model.d_conv_dim=8", "model.e_conv_dim=8", "model.e_hidden=16",
                 "gan_fraction=0.5"]) == 0
    for name in ("stargan", "icgan"):
        assert main(["evaluate", "--checkpoint", str(tmp_path / name / "checkpoint.pt"),
                     "--adversary", str(tmp_path / "adversary.pt"), "--data", str(root), "--split", "test",
                     "--out", str(tmp_path / name / "eval"), "--per-attribute", "2", "--batch-size", "4",
                     "--device", "cpu", "--quiet"]) == 0
        m = json.loads((tmp_path / name / "eval" / "metrics.json").read_text())
        assert m["model"]["kind"] == name and m["attributes"] == usable and not m["obfuscation_available"]
    assert main(["compare", str(tmp_path / "stargan"), str(tmp_path / "icgan"), "--out", str(tmp_path / "cmp")]) == 0
    c = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert [r["name"] for r in c["runs"]] == ["StarGAN", "IcGAN"] and not c["protocol_differences"]
    assert c["attributes"] == usable
    real_all = c["table_a1"]["all"]["acc"][0]["values"]
    assert all(v is None or 0.0 <= v <= 1.0 for v in real_all)
    for entry in c["table_a1"]["all"]["acc"][1:]:
        assert all(0.0 <= v <= 1.0 for v in entry["values"])
    md = (tmp_path / "cmp" / "comparison.md").read_text()
    assert "| Acc (%) | Real |" in md and "Paper: StarGAN" in md
