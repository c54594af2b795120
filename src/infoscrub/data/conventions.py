"""Alignment conventions: how a stored face image becomes a square model input.

- ``celeba``: the original aligned CelebA release (178x218): centre crop 178x178, resize.
- ``celebahq``: CelebA-HQ / FFHQ-style crops, already square: resize only when needed.

The name is recorded in packed shards, run configs and checkpoints, so the photo pipeline
(``infoscrub.faces``) aligns new faces the same way the model was trained.
"""

from __future__ import annotations

from PIL import Image

from infoscrub.errors import InfoscrubError

from infoscrub.alignments import ALIGNMENTS
RESAMPLE = Image.Resampling.LANCZOS


def detect_alignment(image_dir_name: str) -> str:
    """The convention implied by the release layout's image folder name."""
    return "celeba" if image_dir_name == "img_align_celeba" else "celebahq"


def check_alignment(name: str) -> str:
    if name not in ALIGNMENTS:
        raise InfoscrubError(f"unknown alignment {name!r}; choose one of {', '.join(ALIGNMENTS)}")
    return name


def prepare_image(image: Image.Image, alignment: str, size: int) -> Image.Image:
    """Crop and resize one decoded RGB image to ``size`` x ``size`` under ``alignment``."""
    check_alignment(alignment)
    width, height = image.size
    if alignment == "celeba":
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        if (width, height) != (side, side):
            image = image.crop((left, top, left + side, top + side))
    elif width != height:
        raise InfoscrubError(
            f"a {width}x{height} image is not square; the celebahq convention expects aligned"
            " square crops (use --alignment celeba for the original CelebA release)"
        )
    if image.size != (size, size):
        image = image.resize((size, size), RESAMPLE)
    return image
