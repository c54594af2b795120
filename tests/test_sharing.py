"""Sharing channels and the strength chosen per face."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from infoscrub.edit_request import Target
from infoscrub.errors import InfoscrubError
from infoscrub.sharing import CHANNELS, resolve_channels, share_region, straight_through
from infoscrub.targeting import GRID, SAFETY, choose_strength

RNG = np.random.default_rng(0)


def images(value=None, batch=2, size=64) -> torch.Tensor:
    if value is not None:
        return torch.full((batch, 3, size, size), value, dtype=torch.uint8)
    smooth = torch.nn.functional.interpolate(torch.rand(batch, 3, 8, 8), size=(size, size), mode="bilinear")
    return (smooth * 255).round().to(torch.uint8)


@pytest.mark.parametrize("name", [n for n in CHANNELS if n != "screenshot"])
def test_a_constant_image_stays_constant(name):
    out = CHANNELS[name].apply(images(value=137))
    assert out.shape == (2, 3, 64, 64) and out.dtype == torch.uint8
    assert int((out.int() - 137).abs().max()) <= 1  # JPEG may round by one level


def test_the_screenshot_keeps_a_constant_image_constant_up_to_its_noise():
    out = CHANNELS["screenshot"].apply(images(value=137)).float()
    assert abs(float(out.mean()) - 137) < 0.3 and 1.0 < float(out.std()) < 3.0
    again = CHANNELS["screenshot"].apply(images(value=137)).float()
    assert torch.equal(out, again)  # a function of its input


def test_channels_keep_the_size_and_degrade_as_stated():
    x = images()
    error = {n: float((CHANNELS[n].apply(x).float() - x.float()).abs().mean()) for n in CHANNELS}
    assert all(CHANNELS[n].apply(x).shape == x.shape for n in CHANNELS)
    assert error["jpeg90"] < error["jpeg75"] < error["jpeg50"]
    assert error["down2"] < error["down4"]
    # JPEG at 75 is what PIL (libjpeg) makes of it too
    pil = Image.fromarray(x[0].permute(1, 2, 0).numpy())
    buffer = io.BytesIO()
    pil.save(buffer, format="JPEG", quality=75)
    ref = torch.from_numpy(np.asarray(Image.open(buffer))).permute(2, 0, 1)
    assert float((CHANNELS["jpeg75"].apply(x)[0].float() - ref.float()).abs().mean()) < 1.0


def test_resolve_channels():
    assert resolve_channels("all") == tuple(CHANNELS) and resolve_channels("") == tuple(CHANNELS)
    assert resolve_channels("jpeg75, down2,jpeg75") == ("jpeg75", "down2")
    assert resolve_channels(None) == ()
    with pytest.raises(InfoscrubError, match="unknown sharing channel 'tiktok'"):
        resolve_channels("jpeg75,tiktok")


def test_gradients_flow_straight_through():
    x = (torch.rand(2, 3, 16, 16) * 2 - 1).requires_grad_(True)
    y = straight_through(CHANNELS["jpeg50"], x)
    assert not torch.allclose(y, x)  # the forward pass is the real channel
    (y * 3.0).sum().backward()
    assert torch.allclose(x.grad, torch.full_like(x, 3.0))  # the backward pass the identity


def test_photo_channels_on_a_region_are_the_whole_photos_there():
    import cv2

    rgb = np.ascontiguousarray(cv2.resize((RNG.random((150, 200, 3)) * 255).astype(np.uint8), (2000, 1500)))
    # downscale to 1080 on the long side: the region's pixels are those of the whole resize
    pixels, to_shared = share_region(rgb, "resize1080", (400, 300, 800, 700))
    whole = cv2.resize(rgb, (1080, 810), interpolation=cv2.INTER_AREA)
    assert to_shared[0, 0] == pytest.approx(0.54)
    x0, y0 = (np.linalg.inv(to_shared) @ [0, 0, 1])[:2]  # the region's origin in the photo
    r0, c0 = round(0.54 * y0) + 2, round(0.54 * x0) + 2
    inner = pixels[2:-2, 2:-2].astype(int)
    assert np.abs(inner - whole[r0:r0 + inner.shape[0], c0:c0 + inner.shape[1]]).mean() < 3
    assert share_region(rgb[:500, :600], "resize1080", (0, 0, 100, 100))[1][0, 0] == 1.0  # never upscaled
    # a region re-encoded on the JPEG grid is what the whole photo's encode gives there
    small = rgb[:256, :256]
    whole_jpeg = CHANNELS["jpeg75"].apply(torch.from_numpy(small).permute(2, 0, 1)[None])[0].permute(1, 2, 0).numpy()
    part, shift = share_region(small, "jpeg75", (64, 64, 192, 192))
    assert shift[0, 2] == -64 and part.shape == (128, 128, 3)
    assert np.abs(part[16:112, 16:112].astype(int) - whole_jpeg[80:176, 80:176]).mean() < 0.5


# ---------------------------------------------------------------- strength per face


class MonotoneJudge:
    """p(present) falls linearly with the strength of the mix (the crop is 0, the edit 1)."""

    def __init__(self, start=0.9, slope=0.8):
        self.start, self.slope, self.calls = start, slope, 0

    def __call__(self, mixes: np.ndarray) -> np.ndarray:
        self.calls += 1
        s = mixes.reshape(len(mixes), -1).mean(1)
        return (self.start - self.slope * s)[:, None]


CROP, EDIT = np.zeros((8, 8, 3), np.float32), np.ones((8, 8, 3), np.float32)


def test_invert_finds_the_smallest_strength_in_two_calls():
    judge = MonotoneJudge()
    choice = choose_strength(judge, CROP, EDIT, ["Male"], np.array([True]), "invert", Target(margin=0.2))
    expected = (0.9 - (0.3 - SAFETY)) / 0.8  # 0.9 - 0.8 s < 0.3, with the search's slack
    assert choice.reached and choice.strength == pytest.approx(expected, abs=1 / GRID**2)
    assert choice.strength >= expected - 1e-9 and choice.p["Male"] < 0.3
    assert judge.calls == 2


def test_an_attribute_that_was_absent_must_rise():
    judge = MonotoneJudge(start=0.1, slope=-0.8)  # p rises with s
    choice = choose_strength(judge, CROP, EDIT, ["Male"], np.array([False]), "invert", Target(margin=0.2))
    assert choice.reached and choice.strength == pytest.approx((0.7 + SAFETY - 0.1) / 0.8, abs=1 / GRID**2)


def test_obfuscate_finds_the_belief_closest_to_one_half():
    choice = choose_strength(MonotoneJudge(), CROP, EDIT, ["Male"], np.array([True]), "obfuscate", Target())
    assert choice.reached and choice.strength == pytest.approx(0.5, abs=1 / GRID**2)
    assert abs(choice.p["Male"] - 0.5) < 0.01


def test_an_unreachable_goal_is_said():
    judge = MonotoneJudge(start=0.9, slope=0.2)  # never below 0.7
    choice = choose_strength(judge, CROP, EDIT, ["Male"], np.array([True]), "invert", Target(margin=0.2))
    assert not choice.reached and choice.strength == 1.0 and judge.calls == 2


def test_several_attributes_all_must_reach_it():
    def judge(mixes):
        s = mixes.reshape(len(mixes), -1).mean(1)
        return np.stack([0.9 - 0.8 * s, 0.9 - 0.64 * s], axis=1)  # the second one decides

    choice = choose_strength(judge, CROP, EDIT, ["Male", "Young"], np.array([True, True]), "invert", Target())
    expected = (0.9 - (0.3 - SAFETY)) / 0.64
    assert choice.reached and choice.strength == pytest.approx(expected, abs=1 / GRID**2)


def test_the_goal_can_be_asked_to_survive_jpeg():
    judge = MonotoneJudge()
    crop = np.full((16, 16, 3), 0.2, np.float32)
    edit = np.full((16, 16, 3), 0.8, np.float32)
    plain = choose_strength(judge, crop, edit, ["Male"], np.array([True]), "invert", Target())
    shared = choose_strength(judge, crop, edit, ["Male"], np.array([True]), "invert", Target(after="jpeg75"))
    assert plain.reached and shared.reached
    assert shared.strength == pytest.approx(plain.strength, abs=0.02)  # flat images survive JPEG
