"""Read any common photo safely and write it back with no metadata.

Reading sniffs the content (never the file name), refuses what is not a whole, sane image
(empty, truncated, not an image, animated, more pixels than allowed -- decompression bombs
are refused from the header before any pixel is decoded), applies the EXIF orientation to
the pixels, and keeps what the output needs: the format, the ICC colour profile (rebuilt
without its text, ``icc_profile.py``), the alpha channel, one channel for grayscale
sources, 16 bits for 16-bit sources (PNG, and grayscale TIFF: I;16, I and F modes).

Writing builds a fresh file from pixels alone, so EXIF, XMP, IPTC, GPS, embedded
thumbnails, text chunks and comments cannot survive (``FORMATS`` lists what each format
can carry); only the cleaned ICC profile is carried over. Files are written atomically
(temporary file, then rename), never replace an existing file unless ``force`` is given,
and a destination that cannot be written is a one-line error.
"""

from __future__ import annotations

import io
import os
import struct
import tempfile
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageCms, UnidentifiedImageError

from infoscrub.errors import InfoscrubError
from infoscrub.icc_profile import clean_icc_profile
from infoscrub.storage.files import read_bytes, temporary_prefix

DEFAULT_MAX_PIXELS = 120_000_000  # a 108-megapixel phone photo passes, a bomb does not
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EXIF_ORIENTATION = 0x0112
JPEG_QUALITY = 95


@dataclass(frozen=True)
class PhotoFormat:
    """A photo format infoscrub reads and writes back in kind.

    ``metadata`` names what the format can carry in its own file structure; the written
    file holds none of it, except a cleaned ICC profile where ``keeps_icc``."""

    name: str  # Pillow's format name
    suffixes: tuple[str, ...]  # file name suffixes, the usual one first
    media_type: str
    metadata: tuple[str, ...]
    keeps_icc: bool = True  # False: Pillow cannot write a profile into this format
    save_options: dict = field(default_factory=dict)  # for Image.save; never changed

    @property
    def extension(self) -> str:
        return self.suffixes[0]


# In this order in messages ("supported formats: JPEG, PNG, ...").
FORMATS: dict[str, PhotoFormat] = {f.name: f for f in (
    PhotoFormat("JPEG", (".jpg", ".jpeg", ".jpe"), "image/jpeg",
                ("EXIF", "XMP", "IPTC", "comment", "thumbnail", "ICC"),
                save_options={"quality": JPEG_QUALITY}),
    PhotoFormat("PNG", (".png",), "image/png", ("text", "EXIF", "ICC")),
    PhotoFormat("WEBP", (".webp",), "image/webp", ("EXIF", "XMP", "ICC"),
                save_options={"quality": JPEG_QUALITY, "method": 4}),
    PhotoFormat("TIFF", (".tif", ".tiff"), "image/tiff", ("tags", "EXIF", "XMP", "IPTC", "ICC"),
                save_options={"compression": "tiff_deflate"}),
    # BMP (V5 header) can hold a profile, GIF (application extensions) a profile and XMP;
    # Pillow neither reads nor writes them, so they are dropped with the rest.
    PhotoFormat("BMP", (".bmp",), "image/bmp", ("ICC",), keeps_icc=False),
    PhotoFormat("GIF", (".gif",), "image/gif", ("comment", "XMP", "ICC"), keeps_icc=False),
)}
FORMAT_BY_SUFFIX = {suffix: f.name for f in FORMATS.values() for suffix in f.suffixes}


# What Pillow's and OpenCV's decoders raise on hostile bytes (found by the fuzz suite,
# tests/fuzzing.py): every one of them means "not a readable photo".
DECODER_ERRORS = (OSError, SyntaxError, ValueError, TypeError, KeyError, IndexError, EOFError,
                  ZeroDivisionError, OverflowError, MemoryError, struct.error, zlib.error, cv2.error)


class NotAPhoto(InfoscrubError):
    """The bytes are empty, not an image, truncated or corrupt, or an unsupported kind."""


class PhotoTooLarge(InfoscrubError):
    """More pixels than allowed (or a decompression bomb)."""


@dataclass(frozen=True)
class Photo:
    """Decoded, upright pixels plus what writing them back needs.

    ``rgb`` is (H, W, 3) uint8 or uint16 (16-bit PNGs); ``alpha`` is (H, W) of the same
    dtype or None. A grayscale source has R = G = B here and is written back as one channel.
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    format: str
    icc_profile: bytes | None
    grayscale: bool

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def max_value(self) -> float:
        return float(np.iinfo(self.rgb.dtype).max)

    @property
    def media_type(self) -> str:
        return FORMATS[self.format].media_type

    def rgb_float(self) -> np.ndarray:
        """(H, W, 3) float32 in [0, 1]."""
        return self.rgb.astype(np.float32) * np.float32(1.0 / self.max_value)

    def with_rgb(self, rgb: np.ndarray) -> "Photo":
        """A copy with new colour pixels: float in [0, 1] (rounded back to this photo's
        depth; unchanged pixels round-trip exactly) or an array of this photo's dtype."""
        if rgb.shape != self.rgb.shape:
            raise ValueError(f"pixels of shape {rgb.shape} do not fit a {self.rgb.shape} photo")
        if np.issubdtype(rgb.dtype, np.floating):
            rgb = np.clip(rgb * self.max_value + 0.5, 0, self.max_value).astype(self.rgb.dtype)
        return replace(self, rgb=rgb.astype(self.rgb.dtype, copy=False))


# ----------------------------------------------------------------------------- reading


def read_photo(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> Photo:
    path = Path(path)
    return decode_photo(read_bytes(path), max_pixels=max_pixels, name=str(path))


def decode_photo(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, name: str = "upload"
                 ) -> Photo:
    """Decode a whole photo from bytes, or raise ``InfoscrubError`` saying why not."""
    if not data:
        raise NotAPhoto(f"{name} is empty (0 bytes)")
    with warnings.catch_warnings():
        # We enforce our own pixel limit below, before decoding; Pillow's bomb warning would
        # only repeat it (its hard error stays in force as a second guard), and its warnings
        # about corrupt tags describe input we either refuse or decode anyway.
        warnings.simplefilter("ignore")
        try:
            image = Image.open(io.BytesIO(data))
        except UnidentifiedImageError:
            raise NotAPhoto(f"{name} is not an image infoscrub can read") from None
        except Image.DecompressionBombError:
            raise PhotoTooLarge(f"{name} has too many pixels (a decompression bomb?)") from None
        except DECODER_ERRORS as exc:
            raise NotAPhoto(f"{name} is not a readable image: {one_line(exc)}") from None
        if image.format not in FORMATS:
            raise NotAPhoto(f"{name} is a {image.format} image; supported formats: "
                            f"{', '.join(FORMATS)}")
        width, height = image.size
        if width * height > max_pixels:
            raise PhotoTooLarge(f"{name} has too many pixels ({width}x{height}; the limit is "
                                f"{max_pixels / 1e6:g} megapixels)")
        if width == 0 or height == 0:
            raise NotAPhoto(f"{name} has no pixels")
        try:
            frames = getattr(image, "n_frames", 1)  # TIFF reads every page's header for this
        except DECODER_ERRORS as exc:
            raise NotAPhoto(f"{name} is truncated or corrupt: {one_line(exc)}") from None
        if frames > 1:
            raise NotAPhoto(f"{name} has several frames (animation or multi-page); "
                            "only single images are supported")
        try:
            fast = decode_whole_jpeg(data, image)
            if fast is None:
                image.load()
            orientation = int(image.getexif().get(EXIF_ORIENTATION, 1) or 1)
            icc = image.info.get("icc_profile") or None
            icc = clean_icc_profile(icc) if icc else None  # its text could name a person or device
            if fast is not None:
                rgb, alpha, grayscale = fast, None, False
            elif is_16bit_png(data):
                rgb, alpha, grayscale = decode_16bit_png(data, name)
            else:
                rgb, alpha, grayscale, icc = pixels_from_pillow(image, icc)
        except Image.DecompressionBombError:
            raise PhotoTooLarge(f"{name} has too many pixels (a decompression bomb?)") from None
        except DECODER_ERRORS as exc:
            raise NotAPhoto(f"{name} is truncated or corrupt ({image.mode}): {one_line(exc)}") from None
    rgb = orient(rgb, orientation)
    alpha = orient(alpha, orientation) if alpha is not None else None
    return Photo(rgb=np.ascontiguousarray(rgb),
                 alpha=None if alpha is None else np.ascontiguousarray(alpha),
                 format=image.format, icc_profile=icc, grayscale=grayscale)


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def decode_whole_jpeg(data: bytes, image: Image.Image) -> np.ndarray | None:
    """Colour JPEGs through OpenCV, about twice as fast as Pillow for 12-megapixel photos;
    None (use Pillow) for anything else. OpenCV quietly grey-fills a truncated JPEG, so only
    a file that ends with its end-of-image marker takes this path (Pillow, which refuses
    truncated files, checks the rest)."""
    if image.format != "JPEG" or image.mode != "RGB":
        return None
    if not data.rstrip(b"\0").endswith(b"\xff\xd9"):
        return None
    flags = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION  # orientation is applied later
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if bgr is None or (bgr.shape[1], bgr.shape[0]) != image.size:
        return None
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def is_16bit_png(data: bytes) -> bool:
    # IHDR is always first: signature(8) length(4) 'IHDR'(4) width(4) height(4) depth(1)
    return data[:8] == PNG_SIGNATURE and len(data) > 24 and data[12:16] == b"IHDR" \
        and data[24] == 16


def png_chunks_fit(data: bytes) -> bool:
    """Every chunk up to IEND lies inside the file."""
    pos = len(PNG_SIGNATURE)
    while pos + 12 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        pos += 12 + length
        if pos > len(data):
            return False
        if kind == b"IEND":
            return True
    return False


def decode_16bit_png(data: bytes, name: str) -> tuple[np.ndarray, np.ndarray | None, bool]:
    """Pillow reads 16-bit colour PNGs as 8 bits; OpenCV keeps all 16."""
    colour_type = data[25]
    if not png_chunks_fit(data):  # OpenCV spends seconds on a chunk that claims gigabytes
        raise NotAPhoto(f"{name} is a truncated or corrupt PNG (a chunk runs past the end)")
    array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None or array.dtype != np.uint16:
        raise NotAPhoto(f"{name} is a 16-bit PNG that could not be decoded")
    grayscale = colour_type in (0, 4)
    alpha = None
    if array.ndim == 2:
        rgb = np.repeat(array[..., None], 3, axis=2)
    else:
        if array.shape[2] == 4:
            alpha = array[..., 3]
        rgb = cv2.cvtColor(array[..., :3], cv2.COLOR_BGR2RGB)
    return rgb, alpha, grayscale


def pixels_from_pillow(image: Image.Image, icc: bytes | None
                       ) -> tuple[np.ndarray, np.ndarray | None, bool, bytes | None]:
    """RGB (+ alpha) arrays from any Pillow mode; returns the profile that fits them."""
    mode = image.mode
    if mode.startswith("I;16") or mode in ("I", "F"):  # deep grayscale (TIFF and others)
        gray = deep_gray(np.asarray(image), mode)
        return np.repeat(gray[..., None], 3, axis=2), None, True, icc
    if mode == "CMYK":
        rgb, profile = cmyk_to_rgb(image, icc)
        return rgb, None, False, profile
    has_alpha = mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        mode == "P" and "transparency" in image.info) or (
        mode in ("L", "RGB") and "transparency" in image.info)
    grayscale = mode in ("1", "L", "LA", "La")
    converted = image.convert("RGBA" if has_alpha else "RGB")
    array = np.asarray(converted)
    alpha = array[..., 3].copy() if has_alpha else None
    return array[..., :3].copy(), alpha, grayscale, icc


def deep_gray(values: np.ndarray, mode: str) -> np.ndarray:
    """16-bit grayscale from Pillow's deep modes. Integers are 16-bit samples (clipped);
    floats are scaled by their range: 0..1 (the usual float TIFF) or 0..255 to 16 bits,
    anything larger taken as 16-bit samples."""
    if mode != "F":
        return np.clip(values.astype(np.int64), 0, 65535).astype(np.uint16)
    values = values.astype(np.float64)
    if not np.isfinite(values).all():
        raise ValueError("the float image holds NaN or infinite values")
    top = float(values.max(initial=0.0))
    scale = 65535.0 if top <= 1.0 else 257.0 if top <= 255.0 else 1.0
    return np.clip(values * scale + 0.5, 0, 65535).astype(np.uint16)


def cmyk_to_rgb(image: Image.Image, icc: bytes | None) -> tuple[np.ndarray, bytes | None]:
    """CMYK becomes RGB (the output is an RGB file in the same format): through its ICC
    profile into sRGB when it has a usable one, else by Pillow's plain formula. Returns the
    pixels and the profile that describes them."""
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
            converted = ImageCms.profileToProfile(image, source, srgb, outputMode="RGB")
            return np.asarray(converted), clean_icc_profile(srgb.tobytes())
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass
    return np.asarray(image.convert("RGB")), None


def orient(array: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1-8) to (H, W, ...) pixels so they display upright."""
    if orientation == 2:
        return array[:, ::-1]
    if orientation == 3:
        return array[::-1, ::-1]
    if orientation == 4:
        return array[::-1]
    if orientation == 5:
        return array.swapaxes(0, 1)
    if orientation == 6:
        return np.rot90(array, k=-1)
    if orientation == 7:
        return array[::-1, ::-1].swapaxes(0, 1)
    if orientation == 8:
        return np.rot90(array, k=1)
    return array


# ----------------------------------------------------------------------------- writing


def encode_photo(photo: Photo) -> bytes:
    """The photo as a fresh file in its own format: pixels and ICC profile only."""
    if is_16bit_png_photo(photo):
        return encode_16bit_png(photo)
    kind = FORMATS[photo.format]
    image = to_pillow(photo)
    if kind.name == "GIF":
        image = to_gif_palette(image)
    options = dict(kind.save_options)  # a copy: the table is shared
    if photo.icc_profile and kind.keeps_icc:
        options["icc_profile"] = photo.icc_profile
    buffer = io.BytesIO()
    image.save(buffer, format=kind.name, **options)
    return buffer.getvalue()


def is_16bit_png_photo(photo: Photo) -> bool:
    """Pillow writes colour PNGs with 8 bits only; these go through OpenCV."""
    return photo.rgb.dtype == np.uint16 and photo.format == "PNG"


def to_gif_palette(image: Image.Image) -> Image.Image:
    """GIF holds at most 256 palette colours; FASTOCTREE keeps alpha in the palette."""
    if image.mode == "RGBA":
        return image.quantize(method=Image.Quantize.FASTOCTREE)
    return image.convert("P", palette=Image.Palette.ADAPTIVE)


def gray_from_rgb(rgb: np.ndarray) -> np.ndarray:
    """One channel again; exact where R = G = B (everything the edit did not touch)."""
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    top = np.iinfo(rgb.dtype).max
    return np.clip(rgb.astype(np.float32) @ weights + 0.5, 0, top).astype(rgb.dtype)


def to_pillow(photo: Photo) -> Image.Image:
    rgb, alpha = photo.rgb, photo.alpha
    if rgb.dtype == np.uint16:  # 16-bit outside PNG: only grayscale TIFF/others keep depth
        if photo.grayscale and alpha is None and photo.format in ("TIFF", "PNG"):
            return Image.fromarray(gray_from_rgb(rgb))  # uint16 -> mode I;16
        rgb = (rgb >> 8).astype(np.uint8)
        alpha = None if alpha is None else (alpha >> 8).astype(np.uint8)
    if photo.format == "JPEG":
        alpha = None  # JPEG has no alpha channel (and we never decode one from it)
    if photo.grayscale:
        gray = gray_from_rgb(rgb)
        if alpha is None:
            return Image.fromarray(gray, mode="L")
        return Image.fromarray(np.stack([gray, alpha], axis=2), mode="LA")
    if alpha is None:
        return Image.fromarray(rgb, mode="RGB")
    return Image.fromarray(np.concatenate([rgb, alpha[..., None]], axis=2), mode="RGBA")


def encode_16bit_png(photo: Photo) -> bytes:
    """16-bit PNG through OpenCV, which writes no metadata; the ICC profile is added as an
    iCCP chunk right after IHDR."""
    if photo.grayscale:
        gray = gray_from_rgb(photo.rgb)
        array = gray if photo.alpha is None else cv2.cvtColor(
            np.stack([gray, gray, gray, photo.alpha], axis=2), cv2.COLOR_RGBA2BGRA)
    elif photo.alpha is None:
        array = cv2.cvtColor(photo.rgb, cv2.COLOR_RGB2BGR)
    else:
        array = cv2.cvtColor(np.concatenate([photo.rgb, photo.alpha[..., None]], axis=2),
                             cv2.COLOR_RGBA2BGRA)
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(array))
    if not ok:
        raise InfoscrubError("could not encode the 16-bit PNG")
    data = encoded.tobytes()
    if photo.icc_profile:
        chunk_data = b"ICC Profile\x00\x00" + zlib.compress(photo.icc_profile)
        chunk = struct.pack(">I", len(chunk_data)) + b"iCCP" + chunk_data + struct.pack(
            ">I", zlib.crc32(b"iCCP" + chunk_data) & 0xFFFFFFFF)
        ihdr_end = 8 + 8 + 13 + 4
        data = data[:ihdr_end] + chunk + data[ihdr_end:]
    return data


def _process_umask() -> int:
    mask = os.umask(0)  # the only way to read it; done once, at import, before any threads
    os.umask(mask)
    return mask


# mkstemp creates 0600 files; an output photo gets the permissions any new file would get.
NEW_FILE_MODE = 0o666 & ~_process_umask()


def write_bytes_atomic(data: bytes, destination: str | Path, force: bool = False) -> Path:
    """Write ``data`` to ``destination`` via a temporary file in the same folder.

    Without ``force`` an existing file is never replaced, even by a concurrent writer
    (the final step is a hard link, which fails if the name exists)."""
    def write(stream) -> None:
        stream.write(data)

    return write_atomic(write, destination, force)


def write_atomic(write: Callable[[Any], None], destination: str | Path, force: bool = False) -> Path:
    """``write(stream)`` fills a temporary file beside ``destination`` (a binary file open
    for writing and seeking), which then takes the destination's name: nobody ever sees a
    partial file, and one that fails half-way (``write`` raises) leaves nothing behind."""
    destination = Path(destination)
    if destination.is_dir():
        raise InfoscrubError(f"{destination} is a folder; give a file name")
    if destination.exists() and not force:
        raise InfoscrubError(f"{destination} already exists; use --force to replace it")
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=temporary_prefix(destination.name), suffix=".tmp",
                                             dir=destination.parent)
    except OSError as exc:  # read-only, immutable or virtual (/sys) folders, full disks
        raise InfoscrubError(f"cannot write {destination}: {exc.strerror or one_line(exc)}") from None
    try:
        with os.fdopen(handle, "w+b") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, NEW_FILE_MODE)
        if force:
            os.replace(temporary, destination)
        else:
            try:
                os.link(temporary, destination)
            except FileExistsError:
                raise InfoscrubError(
                    f"{destination} already exists; use --force to replace it") from None
            except OSError:  # file systems without hard links: check-then-rename
                if destination.exists():
                    raise InfoscrubError(
                        f"{destination} already exists; use --force to replace it") from None
                os.replace(temporary, destination)
    except OSError as exc:
        raise InfoscrubError(f"cannot write {destination}: {exc.strerror or one_line(exc)}") from None
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return destination


def write_photo(photo: Photo, destination: str | Path, force: bool = False) -> Path:
    return write_bytes_atomic(encode_photo(photo), destination, force=force)


# ----------------------------------------------------------------------------- in memory


def as_photo(image: Any) -> tuple[Photo, Callable[[Photo], Any]]:
    """Wrap any supported image (a Photo, a PIL image or an RGB(A) array) as a Photo; return
    a function that converts a photo back to the input's type."""
    if isinstance(image, Photo):
        return image, lambda p: p
    if isinstance(image, Image.Image):
        return pillow_as_photo(image)
    if isinstance(image, np.ndarray):
        return array_as_photo(image)
    raise InfoscrubError(f"cannot scrub a {type(image).__name__}; pass a Photo, PIL image "
                         "or numpy array")


def pillow_as_photo(image: Image.Image) -> tuple[Photo, Callable[[Photo], Image.Image]]:
    mode = image.mode
    has_alpha = "A" in image.getbands()
    array = np.asarray(image.convert("RGBA" if has_alpha else "RGB"))
    photo = Photo(rgb=np.ascontiguousarray(array[..., :3]),
                  alpha=array[..., 3].copy() if has_alpha else None,
                  format="PNG", icc_profile=image.info.get("icc_profile"),
                  grayscale=False)

    def back_to_pillow(p: Photo) -> Image.Image:
        joined = p.rgb if p.alpha is None else np.concatenate(
            [p.rgb, p.alpha[..., None]], axis=2)
        out = Image.fromarray(joined, mode="RGBA" if p.alpha is not None else "RGB")
        return out if mode in ("RGB", "RGBA") else out.convert(mode) \
            if mode in ("L", "LA") else out
    return photo, back_to_pillow


def array_as_photo(image: np.ndarray) -> tuple[Photo, Callable[[Photo], np.ndarray]]:
    """Integer arrays keep their depth; float ones (in [0, 1]) are held as 16 bits."""
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise InfoscrubError(f"expected an (H, W, 3) or (H, W, 4) RGB array, got "
                             f"shape {image.shape}")
    floating = np.issubdtype(image.dtype, np.floating)
    if not floating and image.dtype not in (np.uint8, np.uint16):
        raise InfoscrubError(f"unsupported pixel type {image.dtype}")
    stored = (np.clip(image, 0, 1) * 65535 + 0.5).astype(np.uint16) if floating else image
    photo = Photo(rgb=np.ascontiguousarray(stored[..., :3]),
                  alpha=stored[..., 3].copy() if image.shape[2] == 4 else None,
                  format="PNG", icc_profile=None, grayscale=False)

    def back_to_array(p: Photo) -> np.ndarray:
        joined = p.rgb if p.alpha is None else np.concatenate(
            [p.rgb, p.alpha[..., None]], axis=2)
        return joined.astype(np.float32) / 65535.0 if floating else joined
    return photo, back_to_array
