"""The table of photo formats (``photo_io.FORMATS``): it is exactly what the decoder
accepts, its suffixes and save options are sound, and none of the metadata it says a format
can carry reaches our output."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageCms, PngImagePlugin, TiffImagePlugin

from infoscrub.errors import InfoscrubError
from infoscrub.icc_profile import clean_icc_profile
from infoscrub.photo_io import FORMAT_BY_SUFFIX, FORMATS, decode_photo, encode_photo

RGB = (np.random.default_rng(0).random((24, 32, 3)) * 255).astype(np.uint8)
SECRET = "Jane Doe at 52.3N"


def saved(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def opened(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


# ---------------------------------------------------------------- the table itself


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Pillow's IM format
def test_the_table_is_exactly_what_the_decoder_accepts():
    Image.init()
    accepted, refused = set(), set()
    for name in sorted(Image.SAVE):  # every format Pillow can write a test file in
        try:
            data = saved(Image.new("RGB", (16, 16), (200, 100, 50)), name)
            pillow_format = opened(data).format
        except Exception:  # no encoder for RGB here, or Pillow cannot read it back
            continue
        try:
            decode_photo(data)
            accepted.add(pillow_format)
        except InfoscrubError:
            refused.add(pillow_format)
    assert accepted == set(FORMATS)
    assert not refused & set(FORMATS)


def test_every_suffix_names_exactly_one_format():
    suffixes = [s for f in FORMATS.values() for s in f.suffixes]
    assert len(suffixes) == len(set(suffixes)) == len(FORMAT_BY_SUFFIX)
    for name, f in FORMATS.items():
        assert f.name == name
        assert f.extension == f.suffixes[0]
        for suffix in f.suffixes:
            assert suffix == suffix.lower() and suffix.startswith(".")
            assert FORMAT_BY_SUFFIX[suffix] == f.name
            assert Image.registered_extensions()[suffix] == f.name  # Pillow agrees
        assert Image.MIME[f.name] == f.media_type


@pytest.mark.parametrize("name", list(FORMATS))
def test_save_options_write_the_format(name):
    f = FORMATS[name]
    assert ("ICC" in f.metadata) or not f.keeps_icc  # a kept profile is a listed kind
    image = Image.fromarray(RGB, "RGB")
    data = saved(image, name, **f.save_options)
    assert opened(data).format == name
    # and through encode_photo, with a profile that is written exactly where keeps_icc says
    photo = decode_photo(saved(image, "PNG", icc_profile=srgb_with_text()))
    out = encode_photo(type(photo)(rgb=photo.rgb, alpha=None, format=name,
                                   icc_profile=photo.icc_profile, grayscale=False))
    assert opened(out).format == name
    assert opened(out).info.get("icc_profile") == (photo.icc_profile if f.keeps_icc else None)


# ---------------------------------------------------------------- metadata


def srgb_with_text() -> bytes:
    """The sRGB profile with text appended, as a camera's profile might carry."""
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return profile + f"Owner: {SECRET}".encode()


def exif() -> bytes:
    exif = Image.Exif()
    exif[0x013B] = SECRET  # Artist, in IFD0
    exif.get_ifd(0x8769)[0x9286] = SECRET  # UserComment, in the Exif IFD
    return exif.tobytes()


def png_text() -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", SECRET)
    info.add_itxt("Comment", SECRET)
    return info


DESCRIPTIVE_TIFF_TAGS = {270: SECRET, 305: SECRET, 306: "2024:01:01 12:00:00", 315: SECRET,
                         33432: SECRET}  # description, software, date, artist, copyright
IPTC_TAG, XMP_TAG = 33723, 700


def tiff_tags(tags: dict) -> TiffImagePlugin.ImageFileDirectory_v2:
    ifd = TiffImagePlugin.ImageFileDirectory_v2()
    for tag, value in tags.items():
        ifd[tag] = value
    return ifd


# How Pillow writes each (format, kind) of the table into an input: save options.
WRITERS = {
    ("JPEG", "EXIF"): lambda: {"exif": exif()},
    ("JPEG", "XMP"): lambda: {"xmp": SECRET.encode()},
    ("JPEG", "comment"): lambda: {"comment": SECRET.encode()},
    ("JPEG", "ICC"): lambda: {"icc_profile": srgb_with_text()},
    ("PNG", "text"): lambda: {"pnginfo": png_text()},
    ("PNG", "EXIF"): lambda: {"exif": exif()},
    ("PNG", "ICC"): lambda: {"icc_profile": srgb_with_text()},
    ("WEBP", "EXIF"): lambda: {"exif": exif()},
    ("WEBP", "XMP"): lambda: {"xmp": SECRET.encode()},
    ("WEBP", "ICC"): lambda: {"icc_profile": srgb_with_text()},
    ("TIFF", "tags"): lambda: {"tiffinfo": tiff_tags(DESCRIPTIVE_TIFF_TAGS)},
    ("TIFF", "EXIF"): lambda: {"exif": exif()},
    ("TIFF", "XMP"): lambda: {"tiffinfo": tiff_tags({XMP_TAG: SECRET.encode()})},
    ("TIFF", "IPTC"): lambda: {"tiffinfo": tiff_tags({IPTC_TAG: SECRET.encode()})},
    ("TIFF", "ICC"): lambda: {"icc_profile": srgb_with_text()},
    ("GIF", "comment"): lambda: {"comment": SECRET.encode()},
}
# Kinds Pillow cannot write. JPEG IPTC and thumbnails: test_photo_io.py builds such a file
# by hand. GIF XMP and ICC, BMP ICC: Pillow does not read them either, so no Photo has them.
PILLOW_CANNOT_WRITE = {("JPEG", "IPTC"), ("JPEG", "thumbnail"), ("GIF", "XMP"),
                       ("GIF", "ICC"), ("BMP", "ICC")}

def exif_of(image: Image.Image) -> dict:
    """The Exif IFD, and Artist from IFD0 (a TIFF's IFD0 also holds its structure tags)."""
    exif = image.getexif()
    found = dict(exif.get_ifd(0x8769))
    if 0x013B in exif:
        found[0x013B] = exif[0x013B]
    return found


# What Pillow reads of each kind from a file (empty or None: none).
READERS = {
    "EXIF": exif_of,
    "XMP": lambda image: image.info.get("xmp"),
    "comment": lambda image: image.info.get("comment"),
    "text": lambda image: image.text,
    "tags": lambda image: set(image.tag_v2) & set(DESCRIPTIVE_TIFF_TAGS),
    "IPTC": lambda image: image.tag_v2.get(IPTC_TAG),
    "ICC": lambda image: image.info.get("icc_profile"),
}

LISTED = {(f.name, kind) for f in FORMATS.values() for kind in f.metadata}


def test_every_listed_kind_is_tested_or_known_unwritable():
    assert LISTED == set(WRITERS) | PILLOW_CANNOT_WRITE
    assert not set(WRITERS) & PILLOW_CANNOT_WRITE


@pytest.mark.parametrize("fmt, kind", sorted(WRITERS))
def test_listed_metadata_is_absent_from_the_output(fmt, kind):
    image = Image.fromarray(RGB, "RGB").convert("P" if fmt == "GIF" else "RGB")
    data = saved(image, fmt, **WRITERS[(fmt, kind)]())
    assert READERS[kind](opened(data)), "the input really carries it"
    out = encode_photo(decode_photo(data))
    left = READERS[kind](opened(out))
    if kind == "ICC":  # the one kind kept, rebuilt without its text
        assert left == clean_icc_profile(srgb_with_text())
    else:
        assert not left
    assert SECRET.encode() not in out
