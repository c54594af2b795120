"""Photo reading and writing: orientation, formats, refusals, metadata stripping."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms

from infoscrub.errors import InfoscrubError
from infoscrub.icc_profile import clean_icc_profile
from infoscrub.photo_io import (NotAPhoto, PhotoTooLarge, decode_photo, encode_photo,
                                NEW_FILE_MODE, read_photo, write_photo)


def pattern(width: int = 40, height: int = 24) -> np.ndarray:
    """An image whose every orientation is distinct (gradients plus a marked corner)."""
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([x * 255 // width, y * 255 // height, (x + y) % 256], axis=2)
    image[:4, :6] = (255, 0, 0)
    return image.astype(np.uint8)


def save(image: Image.Image | np.ndarray, format: str, **options) -> bytes:
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


# What a camera stores for each EXIF orientation, given the upright picture: the inverse
# of the transpose a viewer applies.
STORED_FROM_UPRIGHT = {
    1: None, 2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_to_pixels(orientation: int) -> None:
    upright = Image.fromarray(pattern())
    op = STORED_FROM_UPRIGHT[orientation]
    stored = upright if op is None else upright.transpose(op)
    exif = Image.Exif()
    exif[0x0112] = orientation
    photo = decode_photo(save(stored, "PNG", exif=exif.tobytes()))
    assert photo.rgb.shape == (24, 40, 3)
    np.testing.assert_array_equal(photo.rgb, pattern())


def test_exif_orientation_in_jpeg() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    stored = Image.fromarray(pattern()).transpose(Image.Transpose.ROTATE_90)
    photo = decode_photo(save(stored, "JPEG", quality=98, exif=exif.tobytes()))
    assert photo.rgb.shape == (24, 40, 3)
    assert np.abs(photo.rgb.astype(int) - pattern()).mean() < 6


# ---------------------------------------------------------------------- metadata


def tiff_exif_with_gps_and_thumbnail(thumbnail: bytes) -> bytes:
    """A little-endian EXIF block: IFD0 (Make, GPS pointer) -> GPS IFD (latitude) and
    IFD1 with an embedded JPEG thumbnail. Pillow cannot write IFD1, so it is built here."""
    def entry(tag: int, kind: int, count: int, value: bytes) -> bytes:
        return struct.pack("<HHI", tag, kind, count) + value.ljust(4, b"\0")

    make = b"SpyCam\0"
    ifd0_at, gps_at = 8, 8 + 2 + 3 * 12 + 4
    ifd1_at = gps_at + 2 + 2 * 12 + 4
    data_at = ifd1_at + 2 + 2 * 12 + 4
    make_at, latitude_at = data_at, data_at + len(make)
    thumb_at = latitude_at + 24
    ifd0 = struct.pack("<H", 3) + entry(0x010F, 2, len(make), struct.pack("<I", make_at)) \
        + entry(0x0112, 3, 1, struct.pack("<H", 1)) \
        + entry(0x8825, 4, 1, struct.pack("<I", gps_at)) + struct.pack("<I", ifd1_at)
    gps = struct.pack("<H", 2) + entry(0x0001, 2, 2, b"N\0") \
        + entry(0x0002, 5, 3, struct.pack("<I", latitude_at)) + struct.pack("<I", 0)
    ifd1 = struct.pack("<H", 2) + entry(0x0201, 4, 1, struct.pack("<I", thumb_at)) \
        + entry(0x0202, 4, 1, struct.pack("<I", len(thumbnail))) + struct.pack("<I", 0)
    latitude = struct.pack("<6I", 52, 1, 31, 1, 1234, 100)
    body = b"II*\0" + struct.pack("<I", ifd0_at) + ifd0 + gps + ifd1 + make + latitude
    assert len(body) == thumb_at
    return b"Exif\0\0" + body + thumbnail


def segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def jpeg_full_of_metadata() -> bytes:
    base = save(pattern(64, 48), "JPEG", quality=95, icc_profile=srgb_icc())
    thumbnail = save(pattern(16, 12), "JPEG", quality=80)
    xmp = (b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta xmlns:x='adobe:ns:meta/'>"
           b"<rdf:Description exif:GPSLatitude='52,31N'/></x:xmpmeta>")
    iptc = b"Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x0c\x1c\x02\x78\x00\x08Caption!"
    comment = b"secret comment: taken at home"
    extra = segment(0xE1, tiff_exif_with_gps_and_thumbnail(thumbnail)) + segment(0xE1, xmp) \
        + segment(0xED, iptc) + segment(0xFE, comment)
    return base[:2] + extra + base[2:]


def test_metadata_is_stripped_and_icc_kept() -> None:
    data = jpeg_full_of_metadata()
    source = Image.open(io.BytesIO(data))
    # the input really carries what the output must lose
    assert source.getexif().get_ifd(0x8825)[1] == "N"
    assert b"http://ns.adobe.com/xap" in data and "xmp" in source.info
    assert source.info.get("comment") and "photoshop" in source.info
    assert data.count(b"\xff\xd8\xff") == 2  # the photo and its thumbnail

    out = encode_photo(decode_photo(data))
    result = Image.open(io.BytesIO(out))
    assert result.format == "JPEG" and result.size == (64, 48)
    assert len(result.getexif()) == 0
    for key in ("exif", "xmp", "comment", "photoshop"):
        assert key not in result.info
    assert result.info.get("icc_profile") == clean_icc_profile(srgb_icc())  # colours kept, text gone
    for needle in (b"Exif", b"http://ns.adobe.com/xap", b"GPS", b"SpyCam", b"Photoshop",
                   b"secret comment", b"8BIM"):
        assert needle not in out, needle
    assert out.count(b"\xff\xd8\xff") == 1  # no embedded thumbnail


def test_png_text_chunks_are_dropped() -> None:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("GPS", "52.5N 13.4E")
    info.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta>http://ns.adobe.com/xap/1.0/</x:xmpmeta>")
    out = encode_photo(decode_photo(save(pattern(), "PNG", pnginfo=info)))
    assert b"GPS" not in out and b"ns.adobe.com" not in out
    assert b"tEXt" not in out and b"iTXt" not in out


# ---------------------------------------------------------------------- kinds of pixels


def test_grayscale_stays_grayscale() -> None:
    gray = pattern()[..., 0]
    photo = decode_photo(save(gray, "PNG"))
    assert photo.grayscale and photo.rgb.shape == (24, 40, 3)
    np.testing.assert_array_equal(photo.rgb[..., 1], gray)
    result = Image.open(io.BytesIO(encode_photo(photo)))
    assert result.mode == "L"
    np.testing.assert_array_equal(np.asarray(result), gray)


def test_cmyk_jpeg_becomes_rgb_with_the_right_colours() -> None:
    rgb = pattern()
    cmyk = Image.fromarray(rgb).convert("CMYK")
    photo = decode_photo(save(cmyk, "JPEG", quality=98))
    assert photo.rgb.dtype == np.uint8 and photo.rgb.shape == (24, 40, 3)
    assert np.abs(photo.rgb.astype(int) - rgb).mean() < 6
    result = Image.open(io.BytesIO(encode_photo(photo)))
    assert result.format == "JPEG" and result.mode == "RGB"


def test_png_alpha_is_kept() -> None:
    rgba = np.concatenate([pattern(), (np.arange(40, dtype=np.uint8) * 6)[None, :, None]
                           .repeat(24, axis=0)], axis=2)
    photo = decode_photo(save(rgba, "PNG"))
    assert photo.alpha is not None
    result = Image.open(io.BytesIO(encode_photo(photo)))
    assert result.mode == "RGBA"
    np.testing.assert_array_equal(np.asarray(result), rgba)


def test_16bit_png_keeps_16_bits_and_icc() -> None:
    deep = (pattern().astype(np.uint16) * 257 + 3).astype(np.uint16)
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(deep, cv2.COLOR_RGB2BGR))
    photo = decode_photo(encoded.tobytes())
    assert photo.rgb.dtype == np.uint16
    np.testing.assert_array_equal(photo.rgb, deep)
    photo = type(photo)(rgb=photo.rgb, alpha=None, format="PNG", icc_profile=srgb_icc(),
                        grayscale=False)
    out = encode_photo(photo)
    back = cv2.cvtColor(cv2.imdecode(np.frombuffer(out, np.uint8), cv2.IMREAD_UNCHANGED),
                        cv2.COLOR_BGR2RGB)
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, deep)
    assert Image.open(io.BytesIO(out)).info.get("icc_profile") == srgb_icc()


def test_untouched_pixels_round_trip_exactly() -> None:
    photo = decode_photo(save(pattern(), "PNG"))
    np.testing.assert_array_equal(photo.with_rgb(photo.rgb_float()).rgb, photo.rgb)


# ---------------------------------------------------------------------- refusals


def png_header_only(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(
        ">I", zlib.crc32(b"IHDR" + ihdr) & 0xFFFFFFFF)
    idat = zlib.compress(b"\0" * 64)
    idat_chunk = struct.pack(">I", len(idat)) + b"IDAT" + idat + struct.pack(
        ">I", zlib.crc32(b"IDAT" + idat) & 0xFFFFFFFF)
    return b"\x89PNG\r\n\x1a\n" + chunk + idat_chunk


def test_huge_header_is_refused_before_decoding() -> None:
    with pytest.raises(PhotoTooLarge, match="too many pixels"):
        decode_photo(png_header_only(20000, 20000))
    with pytest.raises(PhotoTooLarge, match="3000x3000"):  # our own, lower limit
        decode_photo(png_header_only(3000, 3000), max_pixels=1_000_000)


def test_truncated_file_is_refused() -> None:
    data = save(pattern(400, 300), "JPEG", quality=90)
    with pytest.raises(NotAPhoto, match="truncated"):
        decode_photo(data[: len(data) // 2])


def test_zero_byte_file_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(NotAPhoto, match="empty"):
        read_photo(empty)


def test_non_image_is_refused() -> None:
    with pytest.raises(NotAPhoto, match="not an image"):
        decode_photo(b"#!/bin/sh\necho this is not a photo\n" * 10)


def test_errors_are_one_line() -> None:
    for data in (b"", b"junk" * 100, png_header_only(20000, 20000)):
        with pytest.raises(InfoscrubError) as caught:
            decode_photo(data)
        assert "\n" not in str(caught.value)


# ---------------------------------------------------------------------- writing


def test_write_never_replaces_without_force(tmp_path: Path) -> None:
    photo = decode_photo(save(pattern(), "PNG"))
    target = tmp_path / "out.png"
    target.write_bytes(b"keep me")
    with pytest.raises(InfoscrubError, match="already exists"):
        write_photo(photo, target)
    assert target.read_bytes() == b"keep me"
    write_photo(photo, target, force=True)
    np.testing.assert_array_equal(np.asarray(Image.open(target)), pattern())
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]  # no temporary left behind


def test_written_photo_gets_ordinary_file_permissions(tmp_path: Path) -> None:
    photo = decode_photo(save(pattern(), "PNG"))
    target = write_photo(photo, tmp_path / "out.png")
    assert target.stat().st_mode & 0o777 == NEW_FILE_MODE
