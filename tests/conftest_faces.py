"""Shared helpers for the photo-pipeline tests (faces, photo IO, CLI, service).

Not a conftest itself: the conftest.py files of tests/faces and tests/service and the
top-level test modules import it. Models: the real ``infoscrub.inference`` untrained
attacker; the editor is a stand-in with the same interface whose edit is visible (an
untrained real generator starts as the identity, so it would change no pixel), except
where a test asks for the real one.
"""

from __future__ import annotations

import io
from functools import lru_cache

import numpy as np
from PIL import Image

ATTRIBUTES = ["Eyeglasses", "Male", "Smiling", "Young"]


class FakeEditor:
    """Follows infoscrub.inference.Editor: brightens the chosen attributes' faces."""

    def __init__(self, attributes, alignment="celebahq", image_size=128):
        self.attributes = list(attributes)
        self.alignment = alignment
        self.image_size = image_size

    @classmethod
    def untrained(cls, attributes, alignment="celebahq", image_size=128, width=16, seed=0):
        return cls(attributes, alignment, image_size)

    can_obfuscate = True

    def codes(self, faces):
        """The reading of attribute j: the face's mean of colour channel j % 3, in [0, 1]."""
        import torch

        means = (faces.float().mean(dim=(2, 3)) + 1.0) / 2.0
        return torch.stack([means[:, j % 3] for j in range(len(self.attributes))], dim=1)

    def mixing(self, faces, attributes, labels=None):
        return (faces[:, :1].float() + 1.0) / 2.0  # a map that differs from face to face

    def edit(self, faces, attributes, mode="invert", strength=1.0, labels=None, alpha=None):
        """Brightens; with ``labels`` the shift's sign follows the first chosen attribute's
        target (brighter when it becomes present), so the targets show in the pixels."""
        import torch

        assert faces.dim() == 4 and faces.shape[1:] == (3, self.image_size, self.image_size)
        assert mode in ("invert", "obfuscate") and set(attributes) <= set(self.attributes)
        self.calls = getattr(self, "calls", []) + [{"labels": labels, "alpha": alpha, "mode": mode}]
        shift = torch.full((len(faces), 1, 1, 1), 0.3 * strength * (1.0 if mode == "invert" else 0.5))
        if labels is not None:
            target = 1.0 - labels[:, self.attributes.index(attributes[0])].float()
            shift = shift * (2.0 * target - 1.0).view(-1, 1, 1, 1)
        return torch.clamp(faces + shift, -1.0, 1.0)


class BrightnessAttacker:
    """p(present) of every attribute falls with the face's mean brightness: a known,
    monotone response to the stand-in editor's strength."""

    def __init__(self, image_size: int = 128):
        self.attributes, self.image_size = list(ATTRIBUTES), image_size

    def predict(self, faces):
        import torch

        mean = faces.mean(dim=(1, 2, 3))
        return torch.sigmoid(-30.0 * (mean[:, None] - 0.17)).expand(-1, len(self.attributes))


class ColourEmbedder:
    """Stand-in for dlib's identity embedder: five times the mean colour of the crop, so a
    tinted face is another person (distance > 0.6) and a mirrored one the same."""

    def embed(self, crops, alignment):
        return np.stack([5.0 * np.asarray(c, np.float64).reshape(-1, 3).mean(0) for c in crops])


def tinted_astronaut() -> np.ndarray:
    """The astronaut with half the red: 'another person' for ``ColourEmbedder``."""
    image = astronaut().astype(np.float32)
    image[..., 0] *= 0.5
    return image.astype(np.uint8)


def make_scrubber(alignment: str = "celebahq", image_size: int = 128, real_editor: bool = False):
    from infoscrub.inference import Attacker, Editor
    from infoscrub.scrubber import Scrubber

    editor_cls = Editor if real_editor else FakeEditor
    attacker_cls = Attacker
    editor = editor_cls.untrained(ATTRIBUTES, alignment=alignment, image_size=image_size)
    attacker = attacker_cls.untrained(ATTRIBUTES, image_size=image_size)
    return Scrubber(editor, attacker)


@lru_cache(maxsize=None)
def astronaut(scale: float = 1.0) -> np.ndarray:
    """skimage's astronaut (public domain, one face), optionally resized; RGB uint8."""
    import cv2
    from skimage import data

    image = data.astronaut()
    if scale != 1.0:
        size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
        image = cv2.resize(image, size, interpolation=cv2.INTER_CUBIC)
    image.setflags(write=False)
    return image


def two_faces() -> np.ndarray:
    """Two astronauts side by side (the right one mirrored): a photo with two faces."""
    image = astronaut()
    return np.ascontiguousarray(np.concatenate([image, image[:, ::-1]], axis=1))


def encode(array: np.ndarray, format: str = "JPEG", **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=format, **options)
    return buffer.getvalue()


def use_small_models(monkeypatch) -> None:
    """Every Scrubber.load() (the CLI's) returns the small test scrubber."""
    from infoscrub.scrubber import Scrubber

    scrubber = make_scrubber()
    monkeypatch.setattr(Scrubber, "load", classmethod(lambda cls, *a, **k: scrubber))


def run_scrub(args: list, capsys) -> tuple[int, str, str]:
    """``infoscrub scrub ARGS`` in this process: (exit status, stdout, stderr)."""
    import infoscrub.cli as cli

    code = cli.main(["scrub", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err
