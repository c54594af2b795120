"""Whether a round's state replaces the repository's, and the replacement itself.

The rule, checked in this order (the first that fails decides): utility (the held-out
adversary's accuracy on the attributes not edited) at or above ``MIN_UTILITY``; the held-out
adversary's mean inversion accuracy below the kept state's; and realism (the Fréchet
distance of inverted faces in the adversary's features, ``evaluation/realism.py``) not
worse than the kept state's by more than ``REALISM_MARGIN`` of the round's own scale (the
noise stand-in's distance above the unedited faces'), so that no round is kept for hiding
attributes by wrecking photos. The first state is kept if its utility holds. One set of
files is replaced, never added to.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from infoscrub.errors import InfoscrubError
from infoscrub.rounds.state import StatePaths, read_trainer_state
from infoscrub.storage.atomic import atomic_copy

MIN_UTILITY = 0.8
REALISM_MARGIN = 0.1  # of the noise stand-in's distance above the unedited faces'


def is_better(new: dict[str, Any], old: dict[str, Any] | None, min_utility: float = MIN_UTILITY) -> tuple[bool, str]:
    """(keep?, why: which rule decided) for the metrics of a new round against the kept state's."""
    privacy, utility = new.get("inversion_accuracy_mean"), new.get("utility")
    if not isinstance(privacy, (int, float)) or not isinstance(utility, (int, float)):
        return False, "the round's metrics have no inversion accuracy or utility (did its evaluation run?)"
    if utility < min_utility:
        return False, f"utility rule: utility {utility:.3f} is below {min_utility}"
    if old is None:
        return True, f"first state: utility {utility:.3f} holds; inversion accuracy {privacy:.3f}"
    before = old.get("inversion_accuracy_mean")
    if isinstance(before, (int, float)) and privacy >= before:
        return False, f"privacy rule: inversion accuracy {privacy:.3f} did not go below the state's {before:.3f}"
    realism_ok, realism_why = realism_holds(new.get("realism"), old.get("realism"))
    if not realism_ok:
        return False, f"realism rule: {realism_why}"
    shown = f"{before:.3f}" if isinstance(before, (int, float)) else "none"
    return True, f"inversion accuracy {shown} -> {privacy:.3f}, utility {utility:.3f}, {realism_why}"


def realism_holds(new: dict[str, Any] | None, old: dict[str, Any] | None) -> tuple[bool, str]:
    """Whether the new inverted faces' distance is within the margin of the kept state's."""
    if not isinstance(old, dict) or not isinstance(old.get("inverted"), (int, float)):
        return True, "realism not compared (the kept state has no realism measurement)"
    if not isinstance(new, dict) or not all(isinstance(new.get(k), (int, float))
                                            for k in ("inverted", "unedited", "noise")):
        return False, "the round has no realism measurement to compare with the kept state's"
    allowed = old["inverted"] + REALISM_MARGIN * max(new["noise"] - new["unedited"], 0.0)
    verdict = (f"realism {new['inverted']:.3g} against the state's {old['inverted']:.3g} "
               f"(at most {allowed:.3g})")
    return new["inverted"] <= allowed, verdict


def keep_round(round_dir: str | Path, target: StatePaths, force: bool = False) -> tuple[bool, str]:
    """Replace ``target``'s state files with the round's when it is better (or ``force``)."""
    new = StatePaths.folder(round_dir)
    for path in (new.editor, new.attacker, new.trainer, new.metrics):
        if not path.is_file():
            raise InfoscrubError(f"{round_dir} is not a finished round: {path.name} is missing")
    read_trainer_state(new.trainer)  # refuse a damaged state before anything is replaced
    try:
        metrics = json.loads(new.metrics.read_text())
    except json.JSONDecodeError as exc:
        raise InfoscrubError(f"{new.metrics} is not valid JSON ({exc})") from None
    keep, why = is_better(metrics, target.read_metrics())
    if not keep and not force:
        return False, why
    for source, dest in ((new.editor, target.editor), (new.attacker, target.attacker),
                         (new.trainer, target.trainer), (new.metrics, target.metrics)):
        atomic_copy(source, dest)
    if new.heldout.is_file() and not target.heldout.is_file():
        atomic_copy(new.heldout, target.heldout)
    return True, why if keep else f"forced ({why})"
