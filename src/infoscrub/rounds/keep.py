"""Whether a round's state replaces the repository's, and the replacement itself.

The rule (the [GPU] round issues): keep the new state only if the held-out adversary's
mean inversion accuracy over the attributes went down while utility (accuracy on the
attributes not edited) stayed at or above ``MIN_UTILITY``. The first state is kept if
its utility holds. One set of files is replaced, never added to.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from infoscrub.errors import InfoscrubError
from infoscrub.rounds.state import StatePaths, read_trainer_state
from infoscrub.storage.atomic import atomic_copy

MIN_UTILITY = 0.8


def is_better(new: dict[str, Any], old: dict[str, Any] | None, min_utility: float = MIN_UTILITY) -> tuple[bool, str]:
    """(keep?, why) for the metrics of a new round against the current state's."""
    privacy, utility = new.get("inversion_accuracy_mean"), new.get("utility")
    if not isinstance(privacy, (int, float)) or not isinstance(utility, (int, float)):
        return False, "the round's metrics have no inversion accuracy or utility (did its evaluation run?)"
    if utility < min_utility:
        return False, f"utility {utility:.3f} is below {min_utility}"
    if old is None:
        return True, f"no earlier state; inversion accuracy {privacy:.3f}, utility {utility:.3f}"
    before = old.get("inversion_accuracy_mean")
    if isinstance(before, (int, float)) and privacy >= before:
        return False, f"inversion accuracy {privacy:.3f} did not go below the state's {before:.3f}"
    return True, f"inversion accuracy {before} -> {privacy:.3f}, utility {utility:.3f}"


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
