"""The identity embedder and grouping: same-person pairs of the CelebA sample verify,
different-person pairs do not, and faces group into their people."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from infoscrub.data.identities import read_identities
from infoscrub.errors import InfoscrubError
from infoscrub.faces import identity
from infoscrub.faces.identity import THRESHOLD, distances, group_faces

SAMPLE = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "celeba_aligned_sample"
needs_extra = pytest.mark.skipif(not identity.available(), reason="the identity extra is not installed")
needs_sample = pytest.mark.skipif(not SAMPLE.is_dir(), reason="needs ../shared/data/celeba_aligned_sample")


def test_grouping_recovers_separated_people_in_order_of_appearance():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 128))
    centres *= 2.0 / np.linalg.norm(centres, axis=1, keepdims=True)  # people 2 apart
    who = np.array([2, 0, 2, 1, 0, 1, 2])
    faces = centres[who] + rng.normal(scale=0.01, size=(len(who), 128))  # photos 0.1 apart
    assert group_faces(faces).tolist() == [0, 1, 0, 2, 1, 2, 0]
    assert group_faces(faces[:1]).tolist() == [0] and group_faces(np.zeros((0, 128))).tolist() == []
    assert len(set(group_faces(faces, threshold=5.0))) == 1  # a loose threshold joins everyone


def test_distances_are_row_wise():
    a, b = np.zeros((2, 128)), np.zeros((2, 128))
    b[1, 0] = 0.7
    assert distances(a, b).tolist() == [0.0, pytest.approx(0.7)]
    assert identity.same_person(0.59) and not identity.same_person(THRESHOLD)


def test_the_identity_file_is_read_with_clear_errors(tmp_path):
    (tmp_path / "identity_CelebA.txt").write_text("000001.jpg 7\n000002.jpg 12\n\n")
    assert read_identities(tmp_path) == {"000001.jpg": 7, "000002.jpg": 12}
    (tmp_path / "bad.txt").write_text("000001.jpg 7\n000002.jpg\n")
    with pytest.raises(InfoscrubError, match="bad.txt:2: expected 'NAME ID'"):
        read_identities(tmp_path / "bad.txt")
    (tmp_path / "twice.txt").write_text("a.jpg 1\na.jpg 2\n")
    with pytest.raises(InfoscrubError, match="appears twice"):
        read_identities(tmp_path / "twice.txt")
    with pytest.raises(InfoscrubError, match="does not exist"):
        read_identities(tmp_path / "none")


def test_without_the_extra_the_error_says_how_to_get_it(monkeypatch):
    monkeypatch.setattr(identity.importlib.util, "find_spec", lambda name: None)
    assert not identity.available()
    with pytest.raises(InfoscrubError, match=r"pip install 'infoscrub\[identity\]'"):
        identity.models_dir()


@needs_extra
@needs_sample
def test_same_person_pairs_verify_and_different_people_do_not():
    """Measured on the whole sample (benchmarks/identity.py, celebahq alignment at 128 px):
    89.3% of 14,594 same-person pairs verified, 99.5% of 497,984 different-person pairs
    rejected. Here 8 people x 8 photos, with margins for the smaller sample."""
    from infoscrub.evaluation.people import load_people

    people = load_people(SAMPLE, "celebahq", 128)
    keep = np.concatenate([np.flatnonzero(people.people == p)[:8] for p in sorted(set(people.people))[:8]])
    who = people.people[keep]
    embeddings = identity.shared_embedder().embed(people.images[keep], "celebahq")
    d = np.linalg.norm(embeddings[:, None] - embeddings[None], axis=-1)
    upper = np.triu_indices(len(keep), 1)
    same = (who[:, None] == who[None])[upper]
    assert (d[upper][same] < THRESHOLD).mean() > 0.8
    assert (d[upper][~same] >= THRESHOLD).mean() > 0.97
    groups = group_faces(embeddings)
    from collections import Counter

    purity = sum(Counter(who[groups == g]).most_common(1)[0][1] for g in set(groups)) / len(who)
    completeness = sum(Counter(groups[who == p]).most_common(1)[0][1] for p in set(who)) / len(who)
    assert purity > 0.9 and completeness > 0.85, (purity, completeness)


@needs_extra
def test_embeddings_take_float_or_uint8_crops_and_refuse_unknown_alignments():
    crop = np.full((128, 128, 3), 128, np.uint8)
    embedder = identity.shared_embedder()
    a = embedder.embed([crop], "celebahq")
    b = embedder.embed([crop.astype(np.float32) / 255.0], "celebahq")
    assert a.shape == (1, 128) and np.allclose(a, b, atol=1e-4)
    with pytest.raises(InfoscrubError, match="no identity face box"):
        embedder.embed([crop], "ffhq")


def test_too_many_faces_to_group_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(identity, "MAX_GROUP_FACES", 5)
    with pytest.raises(InfoscrubError, match="6 faces are too many to group into people at once"):
        group_faces(np.zeros((6, 128)))
