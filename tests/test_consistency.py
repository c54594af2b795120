"""One outcome per person: the same targets (and mixing map) for every face of a person."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from infoscrub.consistency import (
    edit_people,
    face_values,
    group_mean,
    majority,
    plan_person_edits,
)
from infoscrub.errors import InfoscrubError
from infoscrub.inference import Editor

ATTRIBUTES = ["Eyeglasses", "Male", "Smiling", "Young"]


def test_majority_reading_per_person_with_ties_to_the_mean_code():
    codes = torch.tensor([[0.9, 0.2], [0.8, 0.3], [0.1, 0.7],   # person 0: present, absent
                          [0.6, 0.1], [0.45, 0.2]])               # person 1: a tie, mean 0.525
    rows = torch.tensor([0, 0, 0, 1, 1])
    reading, values = majority(codes, rows, 2)
    assert reading.tolist() == [[pytest.approx(2 / 3), pytest.approx(1 / 3)], [0.5, 0.0]]
    assert values.tolist() == [[1.0, 0.0], [1.0, 0.0]]
    means = group_mean(torch.arange(10.0).view(5, 2), rows, 2)
    assert means.tolist() == [[2.0, 3.0], [7.0, 8.0]]


def test_a_face_keeps_its_own_reading_for_the_attributes_not_chosen():
    editor = Editor.untrained(ATTRIBUTES, image_size=32, width=8)
    codes = torch.tensor([[0.9, 0.9, 0.1, 0.6]])
    person = torch.tensor([[0.0, 0.0, 0.0, 0.0]])
    assert face_values(editor, codes, person, ["Male"]).tolist() == [[1.0, 0.0, 0.0, 1.0]]


def faces_of_three_people(n: int = 9, size: int = 32) -> tuple[torch.Tensor, np.ndarray]:
    gen = torch.Generator().manual_seed(0)
    return torch.rand(n, 3, size, size, generator=gen) * 2 - 1, np.array([5, 2, 5, 7, 2, 5, 7, 7, 2])


def recorded_targets(editor: Editor) -> list[torch.Tensor]:
    """Wrap the generator's decode to record the edited codes it is asked for."""
    seen: list[torch.Tensor] = []
    decode = editor.generator.decode

    def recording(x, feats, code):
        seen.append(code.detach().clone())
        return decode(x, feats, code)

    editor.generator.decode = recording
    return seen


def test_every_face_of_a_person_gets_the_same_targets_though_the_readings_differ():
    editor = Editor.untrained(ATTRIBUTES, image_size=32, width=8, seed=3)
    # an untrained encoder reads every attribute as absent: read a face's brightness instead,
    # which varies around 0.5 from face to face
    editor.codes = lambda x: ((x.float().mean(dim=(1, 2, 3)) + 1) / 2)[:, None].expand(-1, len(ATTRIBUTES))
    faces, people = faces_of_three_people()
    col = ATTRIBUTES.index("Smiling")
    readings = (editor.codes(faces)[:, col] > 0.5).numpy()
    # per photo, a face would be edited from its own reading: every person would get
    # contradicting photos
    assert [len(set(readings[people == p])) for p in (5, 2, 7)] == [2, 2, 2]
    plan = plan_person_edits(editor, faces, people, ["Smiling"], "invert")
    assert plan.people == [5, 2, 7]
    targets = recorded_targets(editor)
    edit_people(editor, faces, people, plan)
    target = torch.cat(targets)[:, col]
    for person in (5, 2, 7):
        mine = target[torch.as_tensor(people == person)]
        assert torch.all(mine == mine[0]), (person, mine)
        value = plan.values[plan.people.index(person), col]
        assert mine[0] == 1.0 - value
        share = readings[people == person].mean()
        assert plan.reading[plan.people.index(person), col] == pytest.approx(share)


def test_obfuscation_gives_every_face_of_a_person_the_mean_mixing_map():
    editor = Editor.untrained(ATTRIBUTES, image_size=32, width=8, seed=1)
    faces, people = faces_of_three_people()
    plan = plan_person_edits(editor, faces, people, ["Male", "Young"], "obfuscate")
    assert plan.alpha.shape == (3, 1, 32, 32)
    # the map of person 2 is the mean of the mixer's maps of its faces, each made from the
    # person's values
    mine = np.flatnonzero(people == 2)
    codes = editor.codes(faces[mine])
    labels = face_values(editor, codes, plan.values[plan.people.index(2)].expand(len(mine), -1), ["Male", "Young"])
    expected = editor.mixing(faces[mine], ["Male", "Young"], labels=labels).mean(0)
    assert torch.allclose(plan.alpha[plan.people.index(2)], expected, atol=1e-5)
    out = edit_people(editor, faces, people, plan)
    assert out.shape == faces.shape and torch.isfinite(out).all()
    # with the per-person map, the output equals mixing that map by hand
    alone = editor.edit(faces[mine], ["Male", "Young"], "obfuscate", labels=labels,
                        alpha=plan.alpha[plan.people.index(2)].expand(len(mine), -1, -1, -1))
    assert torch.allclose(out[mine], alone, atol=1e-5)


def test_bad_plans_are_refused():
    editor = Editor.untrained(ATTRIBUTES, image_size=32, width=8)
    faces, people = faces_of_three_people()
    with pytest.raises(InfoscrubError, match="9 faces but 2 group ids"):
        plan_person_edits(editor, faces, people[:2], ["Male"])
    plan = plan_person_edits(editor, faces[:3], people[:3], ["Male"])
    with pytest.raises(InfoscrubError, match="person 7 has no planned edit"):
        edit_people(editor, faces, people, plan)
    editor.mixer = None
    with pytest.raises(InfoscrubError, match="no Stage II mixer"):
        plan_person_edits(editor, faces, people, ["Male"], "obfuscate")
