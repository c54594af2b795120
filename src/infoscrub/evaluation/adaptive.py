"""Privacy against an attacker who knows infoscrub: the adaptive attacker.

The paper judges privacy with a fixed attacker trained on unedited faces. infoscrub and its
weights are public, so a real attacker can scrub faces whose attributes it knows with the
same model and train on them. Inversion is a deterministic map that such an attacker may
learn back; obfuscation's randomness may hold better. This module measures it:

1. scrub the training and test splits with the editor under a ``ScrubPolicy`` (the mode,
   the strength or a random strength per face, a random subset of further attributes
   flipped, noise on the obfuscation's mixing map);
2. train a fresh attacker (a ResNet-18, the held-out adversary's recipe) on the scrubbed
   training faces with their true labels, with every training face labelled and with only
   a few (``budgets``: an attacker with few labelled victims);
3. judge it on the scrubbed test faces, beside the fixed attacker on the same faces and
   both on unedited faces. ``see_strength`` adds, where the strength is drawn per face, an
   attacker that is also given each face's strength, as a fourth input plane. A randomised
   policy is measured at the largest budget only (``budgets_for``).

All the chosen attributes are scrubbed together on every face (a user hiding them all),
and one multi-label attacker judges each of them; ``attributes`` can name one to study it
alone. Accuracy is beside the majority-class rate of the test labels, the accuracy of an
attacker that learnt nothing.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from infoscrub.attributes import resolve_attributes
from infoscrub.data.batches import seeded_generator, to_model_range, to_uint8
from infoscrub.data.imageset import ImageSet
from infoscrub.edit_request import Randomise, check_edit_request, parse_randomise
from infoscrub.errors import InfoscrubError
from infoscrub.evaluation.adversary import evaluate_adversary
from infoscrub.models.adversary import AdversaryConfig
from infoscrub.randomised_edit import edit_randomised
from infoscrub.training.adversary import AdversaryTask, AdversaryTrainConfig
from infoscrub.training.config import RunConfig
from infoscrub.training.loop import fit, make_context


@dataclass
class ScrubPolicy:
    """How each face is scrubbed: the product's settings (``scrub --mode --strength
    --randomise``)."""

    mode: str = "invert"
    strength: float = 1.0
    randomise: Randomise = field(default_factory=Randomise)

    def check(self) -> None:
        self.strength = check_edit_request(self.mode, self.strength)
        self.randomise.check(self.mode, self.strength)

    @property
    def randomised(self) -> bool:
        return self.randomise.active

    @property
    def name(self) -> str:
        """'invert', 'obfuscate, strength U[0.5, 1], 30% extra flips', ..."""
        parts = [self.mode]
        if self.strength != 1.0 and self.randomise.strength_low is None:
            parts.append(f"strength {self.strength:g}")
        drawn = self.randomise.describe(self.strength)
        return ", ".join(parts + ([drawn] if drawn else []))


def _attacker_config() -> AdversaryTrainConfig:
    # the report attacker's size on the CPU: about 3 minutes for 1,500 steps at 64 px
    return AdversaryTrainConfig(model=AdversaryConfig(width=32),
                                run=RunConfig(steps=1500, batch_size=64, log_every=500, sample_every=10**9,
                                              checkpoint_every=10**9, progress=False))


@dataclass
class AdaptiveConfig:
    policies: list[ScrubPolicy] = field(default_factory=lambda: [ScrubPolicy("invert"), ScrubPolicy("obfuscate")])
    budgets: list[int] = field(default_factory=lambda: [100, 1000, 0])  # labelled training faces; 0 = all
    see_strength: bool = False  # also an attacker given each face's random strength (with all labels)
    train_limit: int | None = None  # scrub only the first N training faces
    attacker: AdversaryTrainConfig = field(default_factory=_attacker_config)
    edit_batch: int = 128
    seed: int = 0


# ---- scrubbing a split -------------------------------------------------------------------

@torch.no_grad()
def scrub_split(editor: Any, images: torch.Tensor, attributes: list[str], policy: ScrubPolicy,
                batch_size: int = 128, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(scrubbed uint8 images, the strength used per face) for uint8 faces (N, 3, S, S),
    label-free, as a photo is scrubbed (``randomised_edit``, the scrubber's own path). The
    policy's randomness is a function of ``seed``."""
    policy.check()
    gen = seeded_generator(torch.device("cpu"), seed, 0xADA)
    out, strengths = torch.empty_like(images), torch.empty(len(images))
    for start in range(0, len(images), batch_size):
        x = to_model_range(images[start:start + batch_size])
        edited, drawn = edit_randomised(editor, x, attributes, policy.mode, policy.strength, policy.randomise, gen)
        out[start:start + len(x)] = to_uint8(edited).cpu()
        strengths[start:start + len(x)] = drawn.strengths
    return out, strengths


def with_strength_plane(images: torch.Tensor, strengths: torch.Tensor) -> torch.Tensor:
    """Faces (N, 3, S, S) uint8 with a fourth plane holding each face's strength (0-255)."""
    plane = (strengths * 255).round().clamp(0, 255).to(torch.uint8)
    return torch.cat([images, plane[:, None, None, None].expand(-1, 1, *images.shape[2:])], 1)


# ---- the attacker ------------------------------------------------------------------------

def train_attacker(faces: ImageSet, attributes: list[str], cfg: AdversaryTrainConfig, work: Path) -> torch.nn.Module:
    """A fresh attacker trained on ``faces`` (their labels are the truth it learns), the
    held-out adversary's recipe (mixup, SGD, cosine) at ``cfg``'s size and steps."""
    cfg = replace(cfg, model=replace(cfg.model, in_channels=int(faces.images.shape[1])))
    cfg.data = replace(cfg.data, attributes=list(attributes), image_size=faces.size, alignment=faces.alignment)
    batch = min(cfg.run.batch_size, len(faces))  # a budget of 100 faces still fills a batch
    cfg.run = replace(cfg.run, batch_size=batch, progress=False)
    ctx = make_context(cfg.run, list(attributes), faces.alignment, faces.size)
    task = AdversaryTask(cfg, ctx)
    fit(task, ctx, faces, cfg, work, report=lambda record: None)
    return task.model.eval()


def judge(model_or_attacker: Any, faces: ImageSet, attributes: list[str]) -> dict[str, dict[str, float]]:
    """Per attribute: accuracy and balanced accuracy of an attacker on ``faces``."""
    report = evaluate_adversary(model_or_attacker, faces, attributes)
    return {name: {"accuracy": row["accuracy"], "balanced_accuracy": row["balanced_accuracy"]}
            for name, row in report["per_attribute"].items()}


def budget_subset(count: int, budget: int, seed: int) -> np.ndarray:
    """The first ``budget`` faces of a seeded permutation (0 or more than there are: all)."""
    order = np.random.default_rng([seed, 0xB0D]).permutation(count)
    return np.sort(order[:budget] if 0 < budget < count else order)


# ---- the whole measurement ----------------------------------------------------------------

def evaluate_adaptive(editor: Any, fixed_attacker: Any, train: ImageSet, test: ImageSet,
                      attributes: list[str] | None = None, cfg: AdaptiveConfig | None = None,
                      work: str | Path | None = None, log=print) -> dict[str, Any]:
    """The adaptive attacker's accuracy per policy, budget and attribute, beside the fixed
    attacker's (``fixed_attacker``: an ``Attacker``), and both on unedited test faces."""
    cfg = cfg or AdaptiveConfig()
    attributes = resolve_attributes(attributes or list(editor.attributes), list(editor.attributes))
    missing = [a for a in attributes if a not in fixed_attacker.attributes]
    if missing:
        raise InfoscrubError(f"the fixed attacker cannot judge {', '.join(missing)}")
    if cfg.train_limit:
        train = train.subset(np.arange(min(cfg.train_limit, len(train))))
    for policy in cfg.policies:
        policy.check()
    with tempfile.TemporaryDirectory(prefix="adaptive-", dir=work) as tmp:
        unedited = {"fixed": judge(fixed_attacker, test, attributes)}
        log(f"adaptive: fixed attacker on unedited test faces: {_mean(unedited['fixed']):.3f}")
        results = [_one_policy(editor, fixed_attacker, train, test, attributes, policy, cfg, Path(tmp), log)
                   for policy in cfg.policies]
    chance = {a: float(max(m, 1 - m)) for a, m in zip(attributes, test.targets(attributes).mean(0).tolist())}
    return {"attributes": attributes, "train_faces": len(train), "test_faces": len(test),
            "attacker": {"width": cfg.attacker.model.width, "steps": cfg.attacker.run.steps,
                         "batch_size": cfg.attacker.run.batch_size},
            "chance": chance, "unedited": unedited, "policies": results}


def _one_policy(editor, fixed_attacker, train: ImageSet, test: ImageSet, attributes: list[str],
                policy: ScrubPolicy, cfg: AdaptiveConfig, work: Path, log) -> dict[str, Any]:
    train_images, train_strengths = scrub_split(editor, train.images, attributes, policy, cfg.edit_batch, cfg.seed)
    test_images, test_strengths = scrub_split(editor, test.images, attributes, policy, cfg.edit_batch, cfg.seed + 1)
    scrubbed_train, scrubbed_test = replace(train, images=train_images), replace(test, images=test_images)
    entry: dict[str, Any] = {"policy": asdict(policy), "name": policy.name,
                             "fixed": judge(fixed_attacker, scrubbed_test, attributes), "adaptive": {}}
    log(f"adaptive [{policy.name}]: fixed attacker on scrubbed faces {_mean(entry['fixed']):.3f}")
    for budget in budgets_for(policy, cfg.budgets):
        rows = budget_subset(len(train), budget, cfg.seed)
        model = train_attacker(scrubbed_train.subset(rows), attributes, cfg.attacker, work / f"{policy.name}-{budget}")
        entry["adaptive"][str(budget or "all")] = {
            "labelled_faces": len(rows), "scrubbed": judge(model, scrubbed_test, attributes),
            "unedited": judge(model, test, attributes)}
        log(f"adaptive [{policy.name}]: attacker trained on {len(rows)} scrubbed faces: "
            f"{_mean(entry['adaptive'][str(budget or 'all')]['scrubbed']):.3f} on scrubbed test faces")
    if cfg.see_strength and policy.randomise.strength_low is not None:
        seen_train = replace(scrubbed_train, images=with_strength_plane(train_images, train_strengths))
        seen_test = replace(scrubbed_test, images=with_strength_plane(test_images, test_strengths))
        model = train_attacker(seen_train, attributes, cfg.attacker, work / f"{policy.name}-strength")
        entry["sees_strength"] = {"labelled_faces": len(train), "scrubbed": judge(model, seen_test, attributes)}
        log(f"adaptive [{policy.name}]: attacker given the strength: "
            f"{_mean(entry['sees_strength']['scrubbed']):.3f}")
    return entry


def budgets_for(policy: ScrubPolicy, budgets: list[int]) -> list[int]:
    """A plain mode is measured at every label budget; a randomised defence against the
    attacker with the most labels only, the one it must hold against (and the costliest
    to train: a budget is a whole attacker)."""
    if not policy.randomised:
        return list(budgets)
    return [0] if 0 in budgets else [max(budgets)]


HELPS_BY = 0.02  # a defence helps when its strongest attacker reads this much less (mean accuracy)


def defence_verdicts(result: dict[str, Any], helps_by: float = HELPS_BY) -> list[dict[str, Any]]:
    """Per randomised policy, whether it helps: the strongest adaptive attacker against it
    (every label; given the strength too, where it was drawn) against the attacker with every
    label on the same mode scrubbed plainly (strength 1, nothing drawn), in mean accuracy
    over the attributes. Its cost: what the fixed attacker still reads (a weaker edit hides
    less from it). Policies without a plain run of their mode beside them get no verdict."""
    def plain(entry: dict[str, Any]) -> bool:
        return entry["policy"]["strength"] == 1.0 and not Randomise(**entry["policy"]["randomise"]).active

    baselines = {e["policy"]["mode"]: e for e in result["policies"] if plain(e)}
    verdicts = []
    for entry in result["policies"]:
        base = baselines.get(entry["policy"]["mode"])
        if plain(entry) or base is None or "all" not in entry["adaptive"] or "all" not in base["adaptive"]:
            continue
        strongest = max([_mean(entry["adaptive"]["all"]["scrubbed"])]
                        + ([_mean(entry["sees_strength"]["scrubbed"])] if "sees_strength" in entry else []))
        before = _mean(base["adaptive"]["all"]["scrubbed"])
        verdicts.append({"name": entry["name"], "mode": entry["policy"]["mode"], "plain_adaptive": before,
                         "adaptive": strongest, "lowered_by": before - strongest,
                         "fixed": _mean(entry["fixed"]), "plain_fixed": _mean(base["fixed"]),
                         "helps": before - strongest >= helps_by})
    return verdicts


def _mean(per_attribute: dict[str, dict[str, float]]) -> float:
    return float(np.mean([row["accuracy"] for row in per_attribute.values()]))


# ---- the report --------------------------------------------------------------------------

def adaptive_section(m: dict[str, Any]) -> list[str]:
    """report.md's section of ``evaluate --adaptive`` (from metrics.json's 'adaptive')."""
    result = m.get("adaptive")
    if not result:
        return []
    attributes, fixed_real = result["attributes"], result["unedited"]["fixed"]
    size = result["attacker"]
    lines = ["## The adaptive attacker (`--adaptive`)", "",
             f"An attacker who knows infoscrub scrubs faces whose attributes it knows with the same model "
             f"and trains on them ({result['train_faces']} scrubbed training faces at most, ResNet-18 width "
             f"{size['width']}, {size['steps']} steps of {size['batch_size']}), then reads the scrubbed test "
             f"faces ({result['test_faces']}). All of {', '.join(attributes)} are scrubbed together on every "
             "face. Accuracy per attribute: lower is more private; chance is the majority-class rate of the "
             "test labels, what an attacker that learnt nothing gets.", ""]
    for entry in result["policies"]:
        budgets = list(entry["adaptive"])
        header = (["Attribute", "chance", "fixed, unedited", "fixed, scrubbed"]
                  + [f"adaptive ({entry['adaptive'][b]['labelled_faces']} labels)" for b in budgets]
                  + (["adaptive, given the strength"] if "sees_strength" in entry else [])
                  + ["adaptive (all labels), unedited"])
        lines += [f"### {entry['name']}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for name in attributes + ["mean"]:
            def cell(table: dict[str, dict[str, float]]) -> str:
                values = [table[a]["accuracy"] for a in attributes] if name == "mean" else [table[name]["accuracy"]]
                return f"{float(np.mean(values)):.3f}"

            chance = (float(np.mean([result["chance"][a] for a in attributes])) if name == "mean"
                      else result["chance"][name])
            row = ([name, f"{chance:.3f}", cell(fixed_real), cell(entry["fixed"])]
                   + [cell(entry["adaptive"][b]["scrubbed"]) for b in budgets]
                   + ([cell(entry["sees_strength"]["scrubbed"])] if "sees_strength" in entry else [])
                   + [cell(entry["adaptive"][budgets[-1]]["unedited"])])
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    verdicts = defence_verdicts(result)
    if verdicts:
        lines += ["### Do the randomised defences help?", "",
                  f"A defence helps when the strongest adaptive attacker against it (every label; also given the "
                  f"strength where it is drawn) reads at least {HELPS_BY:g} less, in mean accuracy, than the one "
                  "against the same mode scrubbed plainly. Its cost: what the fixed attacker still reads.", "",
                  "| policy | adaptive, plain mode | adaptive, with the defence | lowered by | fixed, plain mode "
                  "| fixed, with the defence | helps? |", "|---|---|---|---|---|---|---|"]
        lines += [f"| {v['name']} | {v['plain_adaptive']:.3f} | {v['adaptive']:.3f} | {v['lowered_by']:+.3f} | "
                  f"{v['plain_fixed']:.3f} | {v['fixed']:.3f} | {'yes' if v['helps'] else '**no**'} |"
                  for v in verdicts]
        lines.append("")
    return lines


# ---- settings from the command line --------------------------------------------------------

def parse_policy(text: str) -> ScrubPolicy:
    """'invert', 'invert@0.7', 'obfuscate:strength=0.5,extra=0.3,noise=0.2' -> a checked
    ScrubPolicy: the mode, its strength after '@', and ``scrub --randomise``'s settings."""
    head, _, options = text.partition(":")
    mode, at, strength = (p.strip() for p in head.partition("@"))
    try:
        value = float(strength) if at else 1.0
    except ValueError:
        raise InfoscrubError(f"--adaptive-policy takes MODE[@STRENGTH][:randomise settings]; "
                             f"{strength!r} is not a strength") from None
    policy = ScrubPolicy(mode, value, parse_randomise(options) if options.strip() else Randomise())
    policy.check()
    return policy


def parse_budgets(text: str) -> list[int]:
    """'100,1000,all' -> [100, 1000, 0] (0: every training face)."""
    budgets = []
    for item in filter(None, (b.strip() for b in text.split(","))):
        if item == "all":
            budgets.append(0)
        elif item.isdigit() and int(item) > 0:
            budgets.append(int(item))
        else:
            raise InfoscrubError(f"--adaptive-budgets takes numbers of labelled faces and 'all', not {item!r}")
    if not budgets:
        raise InfoscrubError("--adaptive-budgets names no budget")
    return budgets
