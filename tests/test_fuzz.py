"""The fuzz suite in CI: a few hundred seeded mutants of real files through photo decoding
and writing, the scrub path, weights loading, the service's upload parsing and album
uploads (tests/fuzzing.py holds the mutator and the properties; benchmarks/fuzz.py runs many
thousands)."""

from __future__ import annotations

import random

import pytest
from conftest_faces import make_scrubber
from fuzzing import (
    AlbumTarget,
    ScrubTarget,
    ServiceTarget,
    WeightsTarget,
    cases,
    face_seeds,
    photo_target,
    run_case,
    seed_files,
    service_client,
)

SEEDS = seed_files()


def failures(target, count: int, seed: int, seeds: dict[str, bytes] = SEEDS) -> list[str]:
    found = []
    for name, data in cases(seeds, count, seed):
        problem = run_case(target, data)
        if problem:
            found.append(f"{name}: {problem}")
    return found


def test_the_seeds_are_valid_photos_of_every_format():
    from infoscrub.photo_io import decode_photo

    formats = {decode_photo(data).format for data in SEEDS.values()}
    assert formats == {"JPEG", "PNG", "GIF", "WEBP", "TIFF", "BMP"}
    for data in SEEDS.values():
        assert photo_target(data) is None


def test_mutants_are_mutated():
    rng_cases = cases(SEEDS, 50, seed=3)
    assert sum(data != SEEDS[name] for name, data in rng_cases) >= 45  # structural edits may not apply


def test_photo_decoding_and_writing():
    assert failures(photo_target, 300, seed=11) == []


def test_the_scrub_path():
    seeds = face_seeds()
    target = ScrubTarget(make_scrubber())
    for data in seeds.values():  # the seeds reach the model: a face is found
        assert target(data) is None
    assert failures(target, 60, seed=12, seeds=seeds) == []


@pytest.fixture(scope="module")
def weights_seeds(tmp_path_factory):
    from infoscrub.inference import Editor
    from infoscrub.storage.checkpoints import save_checkpoint
    from infoscrub.storage.weights import save_weights

    folder = tmp_path_factory.mktemp("weights")
    editor = Editor.untrained(["Male", "Smiling"], image_size=32, width=8)
    info = {"kind": "stage2", "config": dict(editor.info["config"]), "attributes": editor.attributes,
            "alignment": "celebahq", "image_size": 32, "step": 1}
    nets = {"generator": editor.generator.state_dict(), "mixer": editor.mixer.state_dict()}
    save_weights(folder / "editor.safetensors", nets, info)
    save_checkpoint(folder / "editor.pt", kind="stage2", config=info["config"], attributes=info["attributes"],
                    alignment="celebahq", image_size=32, step=1,
                    models={"generator": editor.generator, "mixer": editor.mixer})
    return {suffix: (folder / f"editor{suffix}").read_bytes() for suffix in (".safetensors", ".pt")}


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_weights_loading(weights_seeds, suffix):
    from infoscrub.editors import load_editor

    target = WeightsTarget(lambda path: load_editor(path), suffix)
    assert target(weights_seeds[suffix]) is None  # the seed itself loads and edits
    assert failures(target, 60, seed=13, seeds={suffix: weights_seeds[suffix]}) == []


def test_the_service_upload_parsing():
    from infoscrub.service.app import create_app

    client = service_client(create_app(make_scrubber()))
    target = ServiceTarget(client)
    rng = random.Random(14)
    problems = [f"{name}: {p}" for name, data in cases(SEEDS, 60, seed=14)
                if (p := target(data, rng))]
    assert problems == []


def test_album_uploads():
    """Mutants among unmutated faces, under hostile and missing names, as albums of 1-3."""
    from conftest_faces import ColourEmbedder

    from infoscrub.service.app import create_app
    from infoscrub.service.guards import ServiceLimits

    scrubber = make_scrubber()
    scrubber.identity = ColourEmbedder()  # albums group faces with the stand-in embedder
    faces = face_seeds()
    client = service_client(create_app(scrubber, ServiceLimits(max_album_photos=3)))
    target = AlbumTarget(client, list(faces.values()))
    rng = random.Random(15)
    seeds = {**SEEDS, **faces}
    unmutated = [("face seed", data) for data in faces.values()] + [("faceless seed", SEEDS["plain.bmp"])] * 2
    problems = [f"{name}: {p}" for name, data in unmutated + cases(seeds, 40, seed=15) if (p := target(data, rng))]
    assert problems == []
    # most mutants are refused whole (one unreadable photo refuses the album); these reached
    # the whole pipeline, some with a photo that has no face
    assert target.albums_scrubbed >= 4 and target.faceless_named >= 1
