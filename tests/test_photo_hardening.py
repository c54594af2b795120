"""Odd photos: every Pillow mode, colour profiles that carry text, metadata in every
format, destinations that cannot be written."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms, PngImagePlugin, TiffImagePlugin

from infoscrub.errors import InfoscrubError
from infoscrub.icc_profile import clean_icc_profile
from infoscrub.photo_io import NotAPhoto, decode_photo, encode_photo, write_bytes_atomic

RNG = np.random.default_rng(0)
RGB = (RNG.random((40, 50, 3)) * 255).astype(np.uint8)
DEEP = (RNG.random((40, 50)) * 65535).astype(np.uint16)


def saved(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def round_trip(data: bytes):
    photo = decode_photo(data)
    out = encode_photo(photo)
    return photo, out, decode_photo(out)


def mode_image(mode: str) -> Image.Image:
    base = Image.fromarray(RGB, "RGB")
    if mode.startswith("I;16"):
        order = ">u2" if mode == "I;16B" else "<u2"
        return Image.frombytes(mode, (50, 40), DEEP.astype(order).tobytes())
    if mode == "I":
        return Image.fromarray(DEEP.astype(np.int32))
    if mode == "F":
        return Image.fromarray(DEEP.astype(np.float32) / 65535.0)  # the usual 0..1 float TIFF
    if mode == "LAB":
        to_lab = ImageCms.buildTransform(ImageCms.createProfile("sRGB"), ImageCms.createProfile("LAB"),
                                         "RGB", "LAB")
        return ImageCms.applyTransform(base, to_lab)
    return base.convert(mode)


@pytest.mark.parametrize("mode", ["I;16", "I;16B", "I;16L", "I", "F"])
def test_deep_grayscale_tiffs_keep_16_bits(mode):
    photo, out, back = round_trip(saved(mode_image(mode), "TIFF"))
    assert photo.grayscale and photo.rgb.dtype == np.uint16
    np.testing.assert_allclose(photo.rgb[..., 0].astype(float), DEEP.astype(float), atol=1.0)
    assert Image.open(io.BytesIO(out)).mode == "I;16"
    np.testing.assert_array_equal(back.rgb, photo.rgb)


def test_float_tiff_in_0_255_and_with_nan():
    photo = decode_photo(saved(Image.fromarray(np.full((8, 8), 128.0, np.float32)), "TIFF"))
    assert abs(int(photo.rgb[0, 0, 0]) - 128 * 257) <= 1  # 0..255 floats scaled, not black
    bad = np.full((8, 8), np.nan, np.float32)
    with pytest.raises(NotAPhoto, match="NaN"):
        decode_photo(saved(Image.fromarray(bad), "TIFF"))


@pytest.mark.parametrize("mode, fmt", [
    ("LA", "PNG"), ("LA", "TIFF"), ("PA", "TIFF"), ("1", "PNG"), ("1", "TIFF"), ("1", "BMP"),
    ("LAB", "TIFF"), ("YCbCr", "TIFF"), ("YCbCr", "JPEG"), ("CMYK", "TIFF"), ("CMYK", "JPEG"),
    ("P", "PNG"), ("P", "GIF"), ("P", "BMP"), ("RGBA", "WEBP"), ("L", "WEBP"), ("RGB", "TIFF"),
])
def test_every_mode_decodes_and_writes_back(mode, fmt):
    photo, out, back = round_trip(saved(mode_image(mode), fmt))
    assert photo.rgb.shape == (40, 50, 3) and back.rgb.shape == (40, 50, 3)
    assert Image.open(io.BytesIO(out)).format == fmt


def test_palette_with_transparency_keeps_its_alpha():
    image = mode_image("P")
    photo, out, _ = round_trip(saved(image, "PNG", transparency=0))
    assert photo.alpha is not None
    assert Image.open(io.BytesIO(out)).mode == "RGBA"


def test_lab_colours_are_right():
    photo = decode_photo(saved(mode_image("LAB"), "TIFF"))
    assert np.abs(photo.rgb.astype(int) - RGB).mean() < 4  # colours survive LAB -> RGB


# ---------------------------------------------------------------- colour profiles


def srgb_with_text() -> bytes:
    """The sRGB profile with a maker, model, date and creator set and text appended."""
    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    profile[48:56] = b"APPLiP15"  # manufacturer, model
    profile[80:84] = b"JOHN"  # creator
    return bytes(profile) + b"Owner: Jane Doe, serial 12345"


def lab_of(image: Image.Image, profile: bytes) -> np.ndarray:
    source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
    to_lab = ImageCms.buildTransform(source, ImageCms.createProfile("LAB"), "RGB", "LAB")
    return np.asarray(ImageCms.applyTransform(image, to_lab))


def test_icc_text_goes_and_colours_stay():
    original = srgb_with_text()
    cleaned = clean_icc_profile(original)
    assert cleaned is not None
    for needle in (b"Jane Doe", b"APPL", b"iP15", b"JOHN", b"sRGB built-in"):
        assert needle not in cleaned, needle
    profile = ImageCms.ImageCmsProfile(io.BytesIO(cleaned))
    assert "infoscrub" in ImageCms.getProfileDescription(profile)
    image = Image.fromarray(RGB, "RGB")
    np.testing.assert_array_equal(lab_of(image, cleaned), lab_of(image, original))


def test_version_2_profiles_get_version_2_text():
    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    profile[8:10] = b"\x02\x10"
    cleaned = clean_icc_profile(bytes(profile))
    parsed = ImageCms.ImageCmsProfile(io.BytesIO(cleaned))
    assert "infoscrub" in ImageCms.getProfileDescription(parsed)


@pytest.mark.parametrize("junk", [b"", b"x" * 200, srgb_with_text()[:100], b"\0" * 36 + b"acsp" + b"\0" * 200])
def test_unusable_profiles_are_dropped(junk):
    assert clean_icc_profile(junk) is None


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "TIFF", "WEBP"])
def test_photos_leave_with_a_cleaned_profile(fmt):
    data = saved(Image.fromarray(RGB, "RGB"), fmt, icc_profile=srgb_with_text())
    _, out, _ = round_trip(data)
    assert b"Jane Doe" not in out and b"iP15" not in out
    assert Image.open(io.BytesIO(out)).info.get("icc_profile") == clean_icc_profile(srgb_with_text())


# ---------------------------------------------------------------- metadata in every format


def test_no_text_survives_in_any_format():
    secret = "Jane Doe at 52.3N"
    image = Image.fromarray(RGB, "RGB")
    png_info = PngImagePlugin.PngInfo()
    png_info.add_text("Author", secret)
    png_info.add_itxt("Comment", secret)
    tiff_tags = TiffImagePlugin.ImageFileDirectory_v2()
    tiff_tags[270] = secret  # ImageDescription
    tiff_tags[315] = secret  # Artist
    tiff_tags[33432] = secret  # Copyright
    exif = Image.Exif()
    exif[0x013B] = secret  # Artist
    sources = {
        "PNG": saved(image, "PNG", pnginfo=png_info),
        "GIF": saved(image.convert("P"), "GIF", comment=secret.encode()),
        "WEBP": saved(image, "WEBP", exif=exif.tobytes(), xmp=secret.encode()),
        "TIFF": saved(image, "TIFF", tiffinfo=tiff_tags),
        "JPEG": saved(image, "JPEG", exif=exif.tobytes(), comment=secret.encode()),
    }
    for fmt, data in sources.items():
        assert secret.encode() in data, fmt  # the input really carries it
        _, out, _ = round_trip(data)
        assert secret.encode() not in out, fmt
        assert b"Exif" not in out and b"XMP" not in out, fmt
        written = Image.open(io.BytesIO(out))
        assert not any(k in written.info for k in ("exif", "xmp", "comment", "Author", "Comment")), fmt
    tags = dict(Image.open(io.BytesIO(round_trip(sources["TIFF"])[1])).tag_v2)
    assert not set(tags) & {270, 305, 306, 315, 33432, 700, 34665, 34853, 33723, 37724}


# ---------------------------------------------------------------- destinations


def test_an_unwritable_folder_is_a_one_line_error(tmp_path: Path):
    with pytest.raises(InfoscrubError, match="cannot write") as caught:
        write_bytes_atomic(b"data", "/sys/infoscrub-test/out.jpg")
    assert "\n" not in str(caught.value)
    with pytest.raises(InfoscrubError, match="cannot write"):
        write_bytes_atomic(b"data", "/sys/out.jpg")


def test_a_file_where_a_folder_should_be(tmp_path: Path):
    (tmp_path / "blocker").write_text("a file")
    with pytest.raises(InfoscrubError, match="cannot write"):
        write_bytes_atomic(b"data", tmp_path / "blocker" / "out.jpg")
    assert (tmp_path / "blocker").read_text() == "a file"

