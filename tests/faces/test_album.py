"""Album scrubbing: faces grouped into people, one outcome per person in every photo."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest_faces import (
    ColourEmbedder,
    astronaut,
    make_scrubber,
    tinted_astronaut,
    two_faces,
)

from infoscrub.consistent_album import AlbumScrub, find_people, scrub_album
from infoscrub.edit_request import EditRequest
from infoscrub.errors import InfoscrubError
from infoscrub.faces import identity as faces_identity
from infoscrub.photo_io import as_photo

SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "data" / "celeba_aligned_sample"


@pytest.fixture()
def scrubber():
    return make_scrubber()


@pytest.fixture()
def photos():
    return [astronaut(), two_faces(), tinted_astronaut()]


def test_faces_are_grouped_into_people_with_their_photos(scrubber, photos):
    album = find_people(scrubber, photos, names=["a.jpg", "b.jpg", "c.jpg"], embedder=ColourEmbedder())
    people = album.people()
    assert [p["person"] for p in people] == [0, 1]
    assert people[0]["photos"] == ["a.jpg", "b.jpg"] and people[0]["faces"] == 3
    assert people[0]["in_photos"] == [{"photo": "a.jpg", "face": 0}, {"photo": "b.jpg", "face": 0},
                                      {"photo": "b.jpg", "face": 1}]
    assert people[1]["photos"] == ["c.jpg"] and people[1]["faces"] == 1
    assert album.crops.shape == (4, 128, 128, 3) and album.crops.dtype == np.float16


@pytest.mark.parametrize("mode", ["invert", "obfuscate"])
def test_every_face_of_a_person_gets_the_same_values_and_mixing(scrubber, photos, mode):
    images, report = scrub_album(scrubber, photos, ["Male", "Young"], mode=mode,
                                 album=find_people(scrubber, photos, embedder=ColourEmbedder()))
    assert [i.shape for i in images] == [p.shape for p in photos]
    calls = scrubber.editor.calls  # one edit call per photo with faces to edit
    assert len(calls) == 3
    male = scrubber.editor.attributes.index("Male")
    person_a = [calls[0]["labels"][0], calls[1]["labels"][0], calls[1]["labels"][1]]
    assert len({float(v[male]) for v in person_a}) == 1
    if mode == "obfuscate":
        maps = [calls[0]["alpha"][0], calls[1]["alpha"][0], calls[1]["alpha"][1]]
        assert all(np.allclose(m.numpy(), maps[0].numpy()) for m in maps)
        assert not np.allclose(calls[2]["alpha"][0].numpy(), maps[0].numpy())  # another person's
    else:
        assert all(c["alpha"] is None for c in calls)
    first = report["people"][0]
    assert first["edited"] and set(first["outcome"]) == {"Male", "Young"}
    value = first["outcome"]["Male"]["value"]
    assert value == ("present" if float(person_a[0][male]) == 1.0 else "absent")
    if mode == "invert":
        assert first["outcome"]["Male"]["shown"] == ("absent" if value == "present" else "present")
    over = first["attacker_over_album"]["Male"]
    faces_a = [f for r in report["photo_reports"] for f in r["faces"] if f["person"] == 0]
    assert over["faces"] == 3
    assert over["p_after"] == pytest.approx(np.mean([f["attacker"]["Male"]["p_after"] for f in faces_a]), abs=1e-4)
    assert [f["person"] for f in report["photo_reports"][1]["faces"]] == [0, 0]
    assert report["grouping"]["threshold"] == 0.6 and report["people"][1]["photos"] == ["photo 2"]


def test_people_can_be_merged_named_and_chosen(scrubber, photos):
    album = find_people(scrubber, photos, embedder=ColourEmbedder())
    album.name(1, "Ana")
    job = AlbumScrub(scrubber, album, EditRequest(["Male"]), people=["Ana"])
    untouched, report = job.scrub(0, photos[0])
    assert np.array_equal(untouched, photos[0]) and not report["faces"][0]["edited"]
    edited, report = job.scrub(2, photos[2])
    assert not np.array_equal(edited, photos[2]) and report["faces"][0]["person_name"] == "Ana"
    assert [p["edited"] for p in job.report()["people"]] == [False, True]
    assert album.merge(1, 0) == 0
    assert album.people()[0]["faces"] == 4 and album.names == {0: "Ana"}
    assert [p["person"] for p in album.people()] == [0]


def test_bad_album_requests_are_one_line_errors(scrubber, photos):
    album = find_people(scrubber, photos, embedder=ColourEmbedder())
    with pytest.raises(InfoscrubError, match="no person 9"):
        album.person_id(9)
    with pytest.raises(InfoscrubError, match="no person is named 'Bo'"):
        AlbumScrub(scrubber, album, EditRequest(["Male"]), people=["Bo"])
    with pytest.raises(InfoscrubError, match="at least two different people"):
        album.merge(0, 0)
    with pytest.raises(InfoscrubError, match="must be text"):
        album.name(0, "12")
    album.name(0, "Ana")
    with pytest.raises(InfoscrubError, match="already named 'Ana'"):
        album.name(1, "Ana")
    with pytest.raises(InfoscrubError, match="the album has photos 0-2, not 3"):
        AlbumScrub(scrubber, album, EditRequest(["Male"])).scrub(3, photos[0])
    with pytest.raises(InfoscrubError, match="read from 3 photos, not 2"):
        scrub_album(scrubber, photos[:2], ["Male"], album=album)
    with pytest.raises(InfoscrubError, match="Unknown attribute|unknown attribute"):
        AlbumScrub(scrubber, album, EditRequest(["Glases"]))
    scrubber.editor.can_obfuscate = False
    with pytest.raises(InfoscrubError, match="cannot obfuscate"):
        AlbumScrub(scrubber, album, EditRequest(["Male"], mode="obfuscate"))
    with pytest.raises(InfoscrubError, match="threshold"):
        find_people(scrubber, photos, threshold=0.0, embedder=ColourEmbedder())


@pytest.mark.skipif(not faces_identity.available() or not SAMPLE.is_dir(),
                    reason="needs the identity extra and ../shared/data/celeba_aligned_sample")
def test_with_dlib_photos_of_three_people_make_three_people():
    from PIL import Image

    from infoscrub.data.identities import read_identities

    identities = read_identities(SAMPLE)
    by_person: dict[int, list[str]] = {}
    for name, person in sorted(identities.items()):
        by_person.setdefault(person, []).append(name)
    chosen = [names[:2] for names in list(by_person.values())[:3]]
    order = [chosen[0][0], chosen[1][0], chosen[2][0], chosen[0][1], chosen[1][1], chosen[2][1]]
    folder = next(p for p in SAMPLE.iterdir() if p.is_dir() and (p / order[0]).is_file())
    photos = [np.asarray(Image.open(folder / name).convert("RGB")) for name in order]
    scrubber = make_scrubber(real_editor=True)
    album = find_people(scrubber, photos, names=order)
    assert [p["photos"] for p in album.people()] == [[order[0], order[3]], [order[1], order[4]],
                                                    [order[2], order[5]]]
    images, report = scrub_album(scrubber, photos, ["Smiling"], album=album)
    assert len(images) == 6 and [p["faces"] for p in report["people"]] == [2, 2, 2]


def test_a_photo_that_changed_since_the_album_was_read_is_refused(scrubber, photos, tmp_path):
    from conftest_faces import encode

    from infoscrub.photo_job import ScrubOptions, scrub_album_file

    album = find_people(scrubber, photos, embedder=ColourEmbedder())
    job = AlbumScrub(scrubber, album, EditRequest(["Male"]))
    source = tmp_path / "a.jpg"
    source.write_bytes(encode(photos[0]))
    result = scrub_album_file(job, 0, source, tmp_path / "out.jpg", ScrubOptions(EditRequest(["Male"])), digest="0" * 64)
    assert result.entry["status"] == "error" and "changed while the album" in result.entry["error"]
    assert not (tmp_path / "out.jpg").exists()


def test_the_identity_check_reuses_the_embeddings_the_album_was_grouped_by(scrubber, photos):
    class Counting(ColourEmbedder):
        def __init__(self):
            self.crops = 0

        def embed(self, crops, alignment):
            self.crops += len(crops)
            return super().embed(crops, alignment)

    scrubber.identity = Counting()
    album = find_people(scrubber, photos)
    assert album.embedder is scrubber.identity and scrubber.identity.crops == 4  # every face, once
    job = AlbumScrub(scrubber, album, EditRequest(["Male"]))
    edited, report = job.scrub(1, photos[1])
    assert scrubber.identity.crops == 4 + 2  # only the two edited faces of the output
    # the same distances as embedding the input faces again
    matrices = scrubber.align(as_photo(photos[1])[0], [album.faces[k].face for k in (1, 2)]).matrices
    fresh = [check.to_dict() for check in scrubber._check_identity(photos[1], edited, matrices)]
    assert [f["identity"] for f in report["faces"]] == fresh and fresh[0]["distance"] > 0
