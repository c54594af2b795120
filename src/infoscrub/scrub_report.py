"""The report of one scrubbed photo, typed: ``ScrubReport`` with a ``FaceReport`` per face.

``to_dict()`` is the report's JSON, the one the CLI writes, the service returns, bulk and
the HTML report read: its keys, their order and the rounding (4 decimals for beliefs,
entropies, distances and seconds) are a contract (``tests/faces/test_scrub_report.py``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from infoscrub.edit_request import Randomise, Target
from infoscrub.entropy import entropy_bits
from infoscrub.faces.detect import Face
from infoscrub.targeting import Choice

Beliefs = dict[str, float]  # the attacker's p(present) per attribute, for one face


@dataclass(frozen=True)
class IdentityCheck:
    """Is the edited face still the same person? The embedding distance between the face
    in the input and in the output, against the face-recognition model's threshold."""

    distance: float
    same_person: bool
    threshold: float

    def to_dict(self) -> dict[str, Any]:
        return {"distance": round(float(self.distance), 4), "same_person": bool(self.same_person),
                "threshold": self.threshold}


@dataclass(frozen=True)
class TargetOutcome:
    """A face's target strength search: its goal, whether the output photo reaches it, the
    final beliefs (as reported, rounded) and those the search predicted."""

    goal: str
    reached: bool
    p_final: Beliefs
    search_p: Beliefs

    def to_dict(self) -> dict[str, Any]:
        return {"goal": self.goal, "reached": self.reached, "p_final": dict(self.p_final),
                "search_p": {a: round(v, 4) for a, v in self.search_p.items()}}


@dataclass
class FaceDraw:
    """What ``--randomise`` drew for one face."""

    strength: float
    also_edited: list[str]  # attributes edited beyond the chosen ones

    def to_dict(self) -> dict[str, Any]:
        return {"strength": round(self.strength, 4), "also_edited": list(self.also_edited)}


@dataclass
class FaceReport:
    index: int  # left to right from 0, as ``--faces`` counts
    face: Face
    attributes_edited: list[str]  # [] when the face was not edited
    before: Beliefs | None = None  # every attacker attribute (None: no attacker)
    after: Beliefs | None = None
    after_sharing: dict[str, Beliefs] = field(default_factory=dict)  # channel -> the chosen attributes
    identity: IdentityCheck | None = None
    strength: float | None = None  # the target strength chosen for this face
    target: TargetOutcome | None = None
    drawn: FaceDraw | None = None  # what --randomise drew for this face
    person: int | None = None  # an album's person, and the name given to them
    person_name: str | None = None

    @property
    def edited(self) -> bool:
        return bool(self.attributes_edited)

    def to_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"index": self.index, **self.face.to_dict(), "edited": self.edited,
                                 "attributes_edited": list(self.attributes_edited)}
        if self.before is not None and self.after is not None:
            entry["attacker"] = {name: belief_numbers(p, self.after[name]) for name, p in self.before.items()}
        if self.after_sharing:
            entry["attacker_after_sharing"] = {channel: {name: round(p, 4) for name, p in beliefs.items()}
                                               for channel, beliefs in self.after_sharing.items()}
        if self.identity is not None:
            entry["identity"] = self.identity.to_dict()
        if self.strength is not None:
            entry["strength"] = round(self.strength, 4)
        if self.target is not None:
            entry["target"] = self.target.to_dict()
        if self.drawn is not None:
            entry["randomised"] = self.drawn.to_dict()
        if self.person is not None:
            entry["person"] = self.person
        if self.person_name is not None:
            entry["person_name"] = self.person_name
        return entry


def belief_numbers(before: float, after: float) -> dict[str, float]:
    return {"p_before": round(before, 4), "p_after": round(after, 4),
            "entropy_before_bits": round(entropy_bits(before), 4),
            "entropy_after_bits": round(entropy_bits(after), 4)}


@dataclass
class ScrubReport:
    mode: str
    strength: float
    attributes: list[str]  # the attributes edited (canonical names)
    alignment: str
    image_size: int
    aligned_input: bool
    attacker: list[str] | None  # the report attacker's attributes (None: no attacker)
    width: int
    height: int
    target: Target | None
    sharing_channels: list[str]
    identity_checked: bool
    faces: list[FaceReport]
    phrases: dict[str, str]  # plain language for every attribute the report mentions
    timings_s: dict[str, float]  # seconds per stage of the pipeline
    photo: str | None = None  # an album's name for the photo
    randomise: Randomise | None = None  # what was drawn per face (--randomise)

    def to_dict(self) -> dict[str, Any]:
        report = {
            "mode": self.mode, "strength": self.strength, "attributes": list(self.attributes),
            "alignment": self.alignment, "image_size": self.image_size, "aligned_input": self.aligned_input,
            "attacker": None if self.attacker is None else list(self.attacker),
            "width": self.width, "height": self.height,
            "faces_found": len(self.faces),
            "target": None if self.target is None else {"goal": self.target.describe(self.mode),
                                                        **asdict(self.target)},
            "sharing_channels": list(self.sharing_channels),
            "identity_checked": self.identity_checked,
            "faces": [face.to_dict() for face in self.faces],
            "phrases": dict(self.phrases),
            "timings_s": {k: round(v, 4) for k, v in self.timings_s.items()},
        }
        if self.photo is not None:
            report["photo"] = self.photo
        if self.randomise is not None:
            report["randomise"] = {"drawn_per_face": self.randomise.describe(self.strength),
                                   **self.randomise.settings()}
        return report


def target_outcome(face: FaceReport, choice: Choice, chosen: list[str], mode: str, target: Target
                   ) -> TargetOutcome:
    """Whether the goal holds on the face as it is in the output photo, judged on the
    reported (rounded) beliefs: after ``target.after`` when the goal asks for it (JPEG 75
    judged on the photo as a platform re-encodes it)."""
    assert face.before is not None and face.after is not None  # a target needs the attacker
    final = {a: round(face.after[a], 4) for a in chosen}
    if target.after == "jpeg75" and "jpeg75" in face.after_sharing:
        final = {a: round(p, 4) for a, p in face.after_sharing["jpeg75"].items()}
    before = {a: round(face.before[a], 4) for a in chosen}
    if mode == "invert":
        reached = all((p < 0.5 - target.margin) if before[a] > 0.5 else (p > 0.5 + target.margin)
                      for a, p in final.items())
    else:
        reached = all(abs(p - 0.5) <= target.tolerance for p in final.values())
    return TargetOutcome(target.describe(mode), bool(reached), final, dict(choice.p))
