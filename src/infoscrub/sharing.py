"""Sharing channels: what happens to a photo after it leaves the user.

Platforms re-encode (JPEG at quality 70 to 85) and downscale (to 1080 or 2048 px on the long
side), people take screenshots of phone screens. An edit that fools an attacker only at full
quality is a false promise, so the evaluation (``evaluate --reshare``), the privacy report
of ``scrub`` and, optionally, training judge edits after these channels too.

A channel maps uint8 images (B, 3, H, W) to uint8 images of the same shape; each is a
plain function of its input (the screenshot's noise is seeded by the image, so a channel
applied twice gives the same result). ``straight_through`` makes any channel usable in
training: the forward pass is the real channel, the backward pass the identity.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

Images = torch.Tensor  # uint8 (B, 3, H, W)


def jpeg(quality: int) -> Callable[[Images], Images]:
    """Re-encode as JPEG at ``quality`` (libjpeg through Pillow, 4:2:0 as platforms do)."""
    def apply(images: Images) -> Images:
        import numpy as np
        from PIL import Image

        out = []
        for image in images.cpu().permute(0, 2, 3, 1).numpy():
            buffer = io.BytesIO()
            Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
            out.append(np.asarray(Image.open(buffer).convert("RGB")))
        return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).contiguous().to(images.device)
    return apply


def down_up(factor: int) -> Callable[[Images], Images]:
    """Downscale by ``factor`` (area average, as resizers do), then back up (bilinear): the
    detail a thumbnail or a small upload keeps, at the size the attacker expects."""
    def apply(images: Images) -> Images:
        size = images.shape[-2:]
        small = F.interpolate(images.float(), scale_factor=1 / factor, mode="area")
        return F.interpolate(small, size=size, mode="bilinear", align_corners=False).round().clamp(0, 255).to(torch.uint8)
    return apply


def screenshot(sigma: float = 0.8, noise: float = 2.0) -> Callable[[Images], Images]:
    """A photo of a phone screen, mildly: a Gaussian blur and sensor noise (std ``noise`` in
    8-bit levels), the noise seeded by the image itself so the channel is a function."""
    def apply(images: Images) -> Images:
        from torchvision.transforms.functional import gaussian_blur

        blurred = gaussian_blur(images.float(), kernel_size=5, sigma=sigma)
        out = []
        for image, soft in zip(images, blurred):
            gen = torch.Generator().manual_seed(int(image.sum()) % (2**31))
            grain = torch.randn(soft.shape, generator=gen) * noise
            out.append((soft + grain.to(soft.device)).round().clamp(0, 255).to(torch.uint8))
        return torch.stack(out)
    return apply


def chain(*channels: Callable[[Images], Images]) -> Callable[[Images], Images]:
    def apply(images: Images) -> Images:
        for channel in channels:
            images = channel(images)
        return images
    return apply


@dataclass(frozen=True)
class Channel:
    name: str
    description: str
    apply: Callable[[Images], Images]


CHANNELS: dict[str, Channel] = {c.name: c for c in (
    Channel("jpeg90", "JPEG at quality 90", jpeg(90)),
    Channel("jpeg75", "JPEG at quality 75 (a typical platform re-encode)", jpeg(75)),
    Channel("jpeg50", "JPEG at quality 50", jpeg(50)),
    Channel("down2", "downscaled by 2, then back up", down_up(2)),
    Channel("down4", "downscaled by 4, then back up", down_up(4)),
    Channel("down2_jpeg75", "downscaled by 2, JPEG 75, back up", chain(down_up(2), jpeg(75))),
    Channel("screenshot", "a phone-screen screenshot: mild blur and noise", screenshot()),
)}


def resolve_channels(names: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """Channel names from a comma-separated string or a list; 'all' (or an empty string) is
    every channel, an empty list none."""
    from infoscrub.errors import InfoscrubError

    if names is None:
        return ()
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()] or ["all"]
    if list(names) == ["all"]:
        return tuple(CHANNELS)
    unknown = [n for n in names if n not in CHANNELS]
    if unknown:
        raise InfoscrubError(f"unknown sharing channel {unknown[0]!r}; choose from {', '.join(CHANNELS)}")
    return tuple(dict.fromkeys(names))


def reshare_channel(names: list[str] | tuple[str, ...], step: int) -> Channel | None:
    """The training option's channel for ``step``: the named channels in turn (None: off)."""
    if not names:
        return None
    name = names[step % len(names)]
    if name not in CHANNELS:
        from infoscrub.errors import InfoscrubError

        raise InfoscrubError(f"unknown sharing channel {name!r} in reshare; choose from {', '.join(CHANNELS)}")
    return CHANNELS[name]


def straight_through(channel: Channel, x: torch.Tensor) -> torch.Tensor:
    """``channel`` on model-range images x in [-1, 1] with an identity gradient (a
    straight-through estimator): the loss sees the shared image, the generator learns as if
    the channel were not there. Lets training ask edits to survive sharing."""
    with torch.no_grad():
        u8 = x.detach().float().add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8)
        shared = channel.apply(u8).float().div(127.5).sub(1.0).to(x.dtype)
    return x + (shared - x).detach()


# ----------------------------------------------------------------------------- whole photos
# The two most common channels, applied to a photo as a platform would (the privacy report
# of ``scrub``): JPEG 75 of the photo, and a downscale to 1080 px on its long side.
PHOTO_CHANNELS = ("jpeg75", "resize1080")
LONG_SIDE = 1080


def share_region(rgb, channel: str, region: tuple[int, int, int, int]):
    """(the pixels of ``region`` (x0, y0, x1, y1) as the photo shared through ``channel``
    shows them, the 3x3 map from photo coordinates to those pixels). Only the region is
    processed, which is what the face crops need and a fraction of a 12-megapixel photo:
    ``jpeg75`` re-encodes it cut on the 16-pixel grid of JPEG's 4:2:0 blocks (the same
    blocks as in the whole photo), ``resize1080`` downscales it by the factor that brings
    the photo's long side to 1080 px (area averaging is local)."""
    import cv2
    import numpy as np

    if rgb.dtype != np.uint8:  # platforms serve 8 bits
        rgb = (rgb >> 8).astype(np.uint8)
    height, width = rgb.shape[:2]
    x0, y0, x1, y1 = region
    x0, y0 = max(0, x0 // 16 * 16), max(0, y0 // 16 * 16)
    x1, y1 = min(width, max(x1, x0 + 1)), min(height, max(y1, y0 + 1))
    part = np.ascontiguousarray(rgb[y0:y1, x0:x1])
    shift = np.array([[1.0, 0.0, -x0], [0.0, 1.0, -y0], [0.0, 0.0, 1.0]])
    if channel == "jpeg75":
        tensor = torch.from_numpy(part).permute(2, 0, 1)[None]
        return CHANNELS["jpeg75"].apply(tensor)[0].permute(1, 2, 0).numpy(), shift
    if channel == "resize1080":
        scale = min(1.0, LONG_SIDE / max(height, width))
        if scale == 1.0:
            return part, shift
        size = (max(1, round(part.shape[1] * scale)), max(1, round(part.shape[0] * scale)))
        return cv2.resize(part, size, interpolation=cv2.INTER_AREA), np.diag([scale, scale, 1.0]) @ shift
    raise ValueError(f"unknown photo channel {channel!r}")
