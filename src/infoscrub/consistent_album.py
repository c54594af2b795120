"""Album-level privacy: the photos of an album scrubbed so that each person gets one outcome.

    images, report = scrub_album(scrubber, photos, ["Eyeglasses"], mode="invert")

or step by step, to check and correct who is who before anything is edited:

    album = find_people(scrubber, photos, names=["a.jpg", "b.jpg"])   # detect, embed, group
    album.people()                  # who was found, in which photos
    album.merge(0, 2); album.name(1, "Ana")
    job = AlbumScrub(scrubber, album, EditRequest(["Eyeglasses"], mode="obfuscate"))
    edited, photo_report = job.scrub(0, photos[0])    # photo by photo (any order)
    report = job.report()           # the people, their photos, the outcome per person

Faces are grouped into people by dlib's face-recognition embedding (``faces.identity``:
average-linkage clustering cut at ``threshold``, 0.6 by default), then every face of a
person is edited alike (``consistency``): the same target values when inverting, the same
mixing map when obfuscating, so no photo contradicts another. The report also gives, per
person, what an attacker believes who averages over all their photos in the album.

Memory: per face, its aligned crop at the model's size (float16) and its embedding; the
photos themselves are not kept, so a caller reading files can decode each photo twice
(once to find the people, once to scrub) instead of holding the album in memory: that is
``scrub_album_in_two_passes``, the one path behind ``scrub --album`` (``photo_job``), the
service's ``/v1/album`` and ``scrub_album``, each giving its photos as ``AlbumPhotos``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from infoscrub.consistency import PersonEdits, edit_people, plan_person_edits
from infoscrub.edit_request import EditRequest
from infoscrub.editing import require_mixer
from infoscrub.entropy import entropy_bits
from infoscrub.errors import InfoscrubError
from infoscrub.faces.crops import identity_crops
from infoscrub.faces.detect import Face
from infoscrub.faces.identity import THRESHOLD, Embedder, check_threshold, group_faces, shared_embedder
from infoscrub.photo_io import Photo, as_photo
from infoscrub.scrubber import FoundFaces, Scrubber, from_model, to_model


@dataclass
class AlbumFace:
    photo: int  # the photo's number in the album
    index: int  # the face's number in its photo (left to right, as ``--faces`` counts)
    face: Face


@dataclass
class Album:
    """The faces of an album and who is who. Person ids stay fixed when people are merged."""

    photos: list[str]
    faces: list[AlbumFace]
    person: np.ndarray  # (F,) person id of each face
    crops: np.ndarray  # (F, S, S, 3) float16 in [0, 1]: the faces as the model sees them
    embeddings: np.ndarray  # (F, 128) float32
    threshold: float
    names: dict[int, str] = field(default_factory=dict)
    embedder: Any = field(default=None, repr=False, compare=False)  # what made ``embeddings``

    def person_id(self, key: int | str) -> int:
        """A person by id or by the name given with ``name``."""
        if isinstance(key, str) and not key.strip().lstrip("-").isdigit():
            found = [p for p, n in self.names.items() if n == key]
            if not found:
                raise InfoscrubError(f"no person is named {key!r} in this album")
            return found[0]
        pid = int(key)
        if pid not in set(self.person.tolist()):
            raise InfoscrubError(f"the album has no person {pid}; it has {self.ids()}")
        return pid

    def ids(self) -> list[int]:
        return list(dict.fromkeys(int(p) for p in self.person))

    def merge(self, *people: int | str) -> int:
        """Make several groups one person (the clustering split someone); returns the id kept
        (the smallest)."""
        ids = sorted({self.person_id(p) for p in people})
        if len(ids) < 2:
            raise InfoscrubError("merge needs at least two different people")
        keep = ids[0]
        self.person = np.where(np.isin(self.person, ids), keep, self.person)
        name = next((self.names[p] for p in ids if p in self.names), None)
        for p in ids:
            self.names.pop(p, None)
        if name is not None:
            self.names[keep] = name
        return keep

    def name(self, person: int | str, name: str) -> None:
        pid = self.person_id(person)
        if not name.strip() or name.strip().lstrip("-").isdigit():
            raise InfoscrubError(f"a person's name must be text, not {name!r}")
        if any(n == name for p, n in self.names.items() if p != pid):
            raise InfoscrubError(f"another person is already named {name!r}")
        self.names[pid] = name

    def faces_in(self, photo: int) -> list[int]:
        """Row numbers of the faces of one photo, in face order."""
        return [k for k, f in enumerate(self.faces) if f.photo == photo]

    def people(self) -> list[dict[str, Any]]:
        """Who was found: per person, their photos and faces."""
        out = []
        for pid in self.ids():
            rows = np.flatnonzero(self.person == pid)
            photos = list(dict.fromkeys(self.faces[k].photo for k in rows))
            out.append({"person": pid, "name": self.names.get(pid), "faces": len(rows),
                        "photos": [self.photos[p] for p in photos],
                        "in_photos": [{"photo": self.photos[self.faces[k].photo], "face": self.faces[k].index}
                                      for k in rows]})
        return out


def grouping_embedder(scrubber: Scrubber) -> Embedder:
    """What groups an album's faces: the scrubber's identity embedder when it has one, else
    dlib's (the identity extra's error when it is not installed)."""
    return scrubber.identity or shared_embedder()


class PeopleFinder:
    """Reads an album photo by photo: faces, aligned crops, identity embeddings; ``album``
    groups them."""

    def __init__(self, scrubber: Scrubber, embedder: Embedder | None = None):
        self.scrubber = scrubber
        self.embedder = embedder or grouping_embedder(scrubber)
        self.photos: list[str] = []
        self.faces: list[AlbumFace] = []
        self.crops: list[np.ndarray] = []
        self.embeddings: list[np.ndarray] = []

    def add(self, name: str, photo: Photo) -> int:
        """Read one photo; returns the number of faces found in it."""
        located = self.scrubber.locate(photo)
        number = len(self.photos)
        self.photos.append(name)
        if located.faces:
            vectors = self.embedder.embed(identity_crops(photo.rgb, located.matrices, self.scrubber.size),
                                          self.scrubber.alignment)
            for index, (face, crop, vector) in enumerate(zip(located.faces, located.crops, vectors)):
                self.faces.append(AlbumFace(number, index, face))
                self.crops.append(crop.astype(np.float16))
                self.embeddings.append(np.asarray(vector, np.float32))
        return len(located.faces)

    def skip(self, name: str) -> None:
        """A photo that could not be read keeps its place (and has no faces)."""
        self.photos.append(name)

    def album(self, threshold: float = THRESHOLD) -> Album:
        check_threshold(threshold)
        size = int(self.scrubber.editor.image_size)
        embeddings = np.stack(self.embeddings) if self.embeddings else np.zeros((0, 128), np.float32)
        crops = np.stack(self.crops) if self.crops else np.zeros((0, size, size, 3), np.float16)
        return Album(list(self.photos), list(self.faces), group_faces(embeddings, threshold), crops,
                     embeddings, threshold, embedder=self.embedder)


def find_people(scrubber: Scrubber, photos: Iterable[Any], names: Sequence[str] | None = None,
                threshold: float = THRESHOLD, embedder: Embedder | None = None) -> Album:
    """Every face of every photo (Photo, PIL image or RGB array), grouped into people."""
    album, _ = read_people(scrubber, PhotosInMemory(list(photos), names), threshold, embedder)
    return album


class AlbumScrub:
    """One person, one outcome: plans each chosen person's edit from all their faces, then
    scrubs the album's photos one at a time with it."""

    def __init__(self, scrubber: Scrubber, album: Album, request: EditRequest,
                 people: Sequence[int | str] | None = None, plan: PersonEdits | None = None):
        """``request``: its target does not apply (every person is edited alike); ``people``:
        the people to edit (None: everyone); ``plan``: the people's edits, already made
        (``bulk`` makes it across machines); None: made here from the album's crops."""
        import torch

        if request.target is not None:
            raise InfoscrubError("an album edits every person alike: a target strength does not apply")
        if request.randomise is not None and request.randomise.active:
            # edits drawn afresh per photo would differ between a person's photos, and an
            # attacker averaging them sees through (the album table in docs/privacy.md)
            raise InfoscrubError("an album edits every person alike in every photo: a randomised edit draws a "
                                 "different edit per face, so it does not apply")
        self.scrubber, self.album, mode = scrubber, album, request.mode
        self.request = scrubber.check_request(request)
        self.chosen, self.strength = list(self.request.attributes), self.request.strength
        if mode == "obfuscate":  # also when the plan was made elsewhere
            require_mixer(scrubber.editor)
        self.selected = set(album.ids()) if people is None else {album.person_id(p) for p in people}
        if plan is None:
            rows = [k for k, pid in enumerate(album.person) if int(pid) in self.selected]
            faces = torch.from_numpy(album.crops[rows].astype(np.float32)).permute(0, 3, 1, 2) * 2.0 - 1.0
            plan = plan_person_edits(scrubber.editor, faces, album.person[rows], self.chosen, mode)
        self.plan: PersonEdits = plan
        self.judged: dict[int, dict[str, Any]] = {}  # face row -> the attacker's view, as scrubbed

    def scrub(self, number: int, image: Any) -> tuple[Any, dict]:
        """Scrub photo ``number`` of the album (the same image ``find_people`` read)."""
        if not 0 <= number < len(self.album.photos):
            raise InfoscrubError(f"the album has photos 0-{len(self.album.photos) - 1}, not {number}")
        photo, back = as_photo(image)
        rows = self.album.faces_in(number)
        people = [int(self.album.person[k]) for k in rows]
        wanted = [i for i, pid in enumerate(people) if pid in self.selected]
        device = self.scrubber.device

        def edit(selected: list[int], crops: list[np.ndarray]) -> list[np.ndarray]:
            if not crops:
                return []
            edited = edit_people(self.scrubber.editor, to_model(crops, device),
                                 [people[i] for i in selected], self.plan, self.strength)
            return from_model(edited)

        # the identity check compares with the faces' embeddings made when the album was read
        reuse = self.album.embedder is not None and self.album.embedder is self.scrubber.identity
        known = [self.album.embeddings[k] for k in rows] if reuse else None
        found = FoundFaces([self.album.faces[k].face for k in rows], edit, known)
        edited, report = self.scrubber.scrub_found(photo, self.request, wanted, found)
        for k, face in zip(rows, report.faces):
            face.person = int(self.album.person[k])
            face.person_name = self.album.names.get(face.person)
        report.photo = self.album.photos[number]
        entry = report.to_dict()
        for k, face in zip(rows, entry["faces"]):
            self.judged[k] = face.get("attacker", {})  # rounded, as the photo's report says
        return back(edited), entry

    def report(self) -> dict[str, Any]:
        """The album's people and the outcome per person (``album_report``), with the report
        attacker's beliefs on every photo scrubbed so far."""
        return album_report(self.album, self.plan, list(self.scrubber.editor.attributes), self.strength,
                            self.selected, self.judged)


def album_report(album: Album, plan: PersonEdits, editor_attributes: list[str], strength: float,
                 selected: set[int], judged: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """The people, their photos and the outcome per person; ``attacker_over_album``: the report
    attacker's belief averaged over every face of the person in ``judged`` (face row -> its
    report's ``attacker`` entry), what an attacker who collects the album sees, before and
    after."""
    people = []
    for entry in album.people():
        pid = entry["person"]
        edited = pid in selected and pid in plan.people
        outcome = {}
        if edited:
            r = plan.rows([pid])[0]
            for a in plan.attributes:
                col = editor_attributes.index(a)
                value = bool(plan.values[r, col] > 0.5)
                outcome[a] = {"read_present": round(float(plan.reading[r, col]), 4),
                              "value": "present" if value else "absent",
                              "shown": ("absent" if value else "present") if plan.mode == "invert" else "obfuscated"}
        rows = [k for k in np.flatnonzero(album.person == pid) if judged.get(k)]
        over = {}
        for a in plan.attributes:
            if rows and all(a in judged[k] for k in rows):
                before = float(np.mean([judged[k][a]["p_before"] for k in rows]))
                after = float(np.mean([judged[k][a]["p_after"] for k in rows]))
                over[a] = {"faces": len(rows), "p_before": round(before, 4), "p_after": round(after, 4),
                           "entropy_before_bits": round(entropy_bits(before), 4),
                           "entropy_after_bits": round(entropy_bits(after), 4)}
        people.append({**entry, "edited": edited, "outcome": outcome, "attacker_over_album": over})
    return {"mode": plan.mode, "attributes": list(plan.attributes), "strength": strength,
            "grouping": {"model": "dlib ResNet face recognition (faces.identity)",
                         "threshold": album.threshold, "linkage": "average"},
            "photos": len(album.photos), "faces": len(album.faces), "people": people}


class AlbumPhotos(ABC):
    """An album's photos as one flow reads them and keeps its results: files written to
    disk, uploads answered in JSON, images in memory. ``names``: one per photo, in order."""

    names: list[str]

    @abstractmethod
    def read(self, number: int) -> Photo | None:
        """Pass 1: photo ``number``; None when it cannot be read (it keeps its place in the
        album, with no faces, and is not scrubbed); an exception stops the album."""

    def check(self, album: Album) -> None:
        """Between the passes: the people as found, before any edit is planned (a flow may
        refuse an album here)."""

    @abstractmethod
    def scrub(self, job: AlbumScrub, number: int) -> None:
        """Pass 2: photo ``number``, read again, scrubbed with ``job`` (``job.scrub``) and
        kept as the flow keeps its results."""


def read_people(scrubber: Scrubber, photos: AlbumPhotos, threshold: float = THRESHOLD,
                embedder: Embedder | None = None) -> tuple[Album, set[int]]:
    """Pass 1: every photo's faces, grouped into people; and the numbers of the photos that
    could not be read."""
    finder = PeopleFinder(scrubber, embedder)
    unread: set[int] = set()
    for number, name in enumerate(photos.names):
        photo = photos.read(number)
        if photo is None:
            finder.skip(name)
            unread.add(number)
        else:
            finder.add(name, photo)
    return finder.album(threshold), unread


def scrub_album_in_two_passes(scrubber: Scrubber, photos: AlbumPhotos, request: EditRequest, *,
                              threshold: float = THRESHOLD, people: Sequence[int | str] | None = None,
                              album: Album | None = None) -> AlbumScrub:
    """An album scrubbed so that each person gets one outcome, never all in memory: a first
    pass finds and groups the people (``album``: already done), a second scrubs each photo
    that could be read. Returns the job, whose ``report()`` is the album's."""
    unread: set[int] = set()
    if album is None:
        album, unread = read_people(scrubber, photos, threshold)
    photos.check(album)
    job = AlbumScrub(scrubber, album, request, people)
    for number in range(len(album.photos)):
        if number not in unread:
            photos.scrub(job, number)
    return job


class PhotosInMemory(AlbumPhotos):
    """Images in memory (Photo, PIL image or RGB array); the results in the images' types."""

    def __init__(self, images: list[Any], names: Sequence[str] | None = None):
        self.images = images
        self.names = list(names) if names is not None else [f"photo {k}" for k in range(len(images))]
        self.results: list[tuple[Any, dict]] = []

    def read(self, number: int) -> Photo:
        return as_photo(self.images[number])[0]

    def scrub(self, job: AlbumScrub, number: int) -> None:
        self.results.append(job.scrub(number, self.images[number]))


def scrub_album(scrubber: Scrubber, photos: Sequence[Any], attributes: str | Sequence[str], mode: str = "invert",
                strength: float = 1.0, album: Album | None = None, people: Sequence[int | str] | None = None,
                threshold: float = THRESHOLD, names: Sequence[str] | None = None) -> tuple[list[Any], dict]:
    """Scrub a whole album in memory: (edited images in the input's types, album report with
    the per-photo reports under 'photo_reports')."""
    if album is not None and len(album.photos) != len(photos):
        raise InfoscrubError(f"the album was read from {len(album.photos)} photos, not {len(photos)}")
    images = PhotosInMemory(list(photos), names)
    job = scrub_album_in_two_passes(scrubber, images, EditRequest(attributes, mode, strength),
                                    threshold=threshold, people=people, album=album)
    report = job.report()
    report["photo_reports"] = [r for _, r in images.results]
    return [image for image, _ in images.results], report
