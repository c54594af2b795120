"""ICC colour profiles without the text: keep what colours mean, drop who made the file.

A profile carries a description, a copyright, device maker and model fields, a creation
date, a creator signature, sometimes a metadata dictionary or bytes appended after its
end: a user's name or camera can hide in any of them. Converting the pixels to sRGB would
drop all that but clips wide-gamut photos (a phone's Display P3) and changes every pixel,
so instead the profile is rebuilt: the header with its identifying fields cleared, only
the tags that define colours (primaries, tone curves, white point, lookup tables), each
trimmed to its exact length where its type allows, and a neutral description and
copyright. Pixels are untouched and any colour-managed viewer shows the same colours.
"""

from __future__ import annotations

import struct

HEADER = 128
MAX_TAGS = 100
ACSP = b"acsp"
# Tags that say what the numbers mean: colorants, tone curves, white/black point,
# chromatic adaptation, lookup tables, gamut and preview tables, signatures.
COLOUR_TAGS = frozenset(tag.encode() for tag in (
    "rXYZ", "gXYZ", "bXYZ", "rTRC", "gTRC", "bTRC", "kTRC", "wtpt", "bkpt", "chad", "chrm",
    "lumi", "A2B0", "A2B1", "A2B2", "B2A0", "B2A1", "B2A2", "D2B0", "D2B1", "D2B2", "D2B3",
    "B2D0", "B2D1", "B2D2", "B2D3", "gamt", "pre0", "pre1", "pre2", "cicp", "ciis", "rig0",
    "rig2", "tech", "meas"))
DESCRIPTION = "infoscrub: colour profile without its text"
COPYRIGHT = "No copyright, use freely"
FIXED_DATE = struct.pack(">6H", 2000, 1, 1, 0, 0, 0)


def clean_icc_profile(data: bytes) -> bytes | None:
    """The profile rebuilt from its colour tags only; None if it is not a usable profile."""
    try:
        return _rebuild(data)
    except (struct.error, ValueError, IndexError):
        return None


def _rebuild(data: bytes) -> bytes | None:
    if len(data) < HEADER + 4 or data[36:40] != ACSP:
        return None
    size = struct.unpack(">I", data[:4])[0]
    if not HEADER + 4 <= size <= len(data):
        return None
    data = data[:size]  # anything appended after the declared end goes
    count = struct.unpack(">I", data[HEADER:HEADER + 4])[0]
    if count > MAX_TAGS or HEADER + 4 + 12 * count > size:
        return None
    kept: list[tuple[bytes, bytes]] = []
    for i in range(count):
        sig, offset, length = struct.unpack(">4sII", data[HEADER + 4 + 12 * i: HEADER + 16 + 12 * i])
        if sig not in COLOUR_TAGS:
            continue
        if offset < HEADER or length < 8 or offset + length > size:
            return None
        kept.append((sig, _trimmed(data[offset:offset + length])))
    if not kept:
        return None
    version = data[8]
    kept.append((b"desc", _text_tag(DESCRIPTION, version, description=True)))
    kept.append((b"cprt", _text_tag(COPYRIGHT, version, description=False)))
    return _assemble(_clean_header(data[:HEADER]), kept)


def _clean_header(header: bytes) -> bytes:
    """Colour-defining fields stay (version, class, colour space, PCS, intent, illuminant);
    CMM, date, platform, flags, maker, model, attributes, creator and ID are cleared."""
    out = bytearray(header)
    out[4:8] = bytes(4)  # preferred CMM
    out[24:36] = FIXED_DATE
    out[40:44] = bytes(4)  # platform
    out[44:48] = bytes(4)  # flags (embedded / independent)
    out[48:64] = bytes(16)  # device manufacturer, model, attributes
    out[80:128] = bytes(48)  # creator, profile ID (MD5 of the old bytes), reserved
    return bytes(out)


def _trimmed(tag: bytes) -> bytes:
    """The tag cut to the length its type defines, so nothing rides along behind it."""
    kind = tag[:4]
    if kind == b"XYZ ":
        return tag[: 8 + 12 * ((len(tag) - 8) // 12)]
    if kind == b"curv" and len(tag) >= 12:
        n = struct.unpack(">I", tag[8:12])[0]
        return tag[: 12 + 2 * n] if 12 + 2 * n <= len(tag) else tag
    if kind == b"para" and len(tag) >= 12:
        params = {0: 1, 1: 3, 2: 4, 3: 5, 4: 7}.get(struct.unpack(">H", tag[8:10])[0])
        return tag[: 12 + 4 * params] if params and 12 + 4 * params <= len(tag) else tag
    if kind == b"sf32":
        return tag[: 8 + 4 * ((len(tag) - 8) // 4)]
    return tag


def _text_tag(text: str, version: int, description: bool) -> bytes:
    if version >= 4:  # multiLocalizedUnicodeType, one en-US record
        body = text.encode("utf-16-be")
        return b"mluc" + bytes(4) + struct.pack(">II2s2sII", 1, 12, b"en", b"US", len(body), 28) + body
    ascii_text = text.encode("ascii") + b"\0"
    if description:  # textDescriptionType (v2)
        return (b"desc" + bytes(4) + struct.pack(">I", len(ascii_text)) + ascii_text
                + struct.pack(">II", 0, 0) + struct.pack(">HB", 0, 0) + bytes(67))
    return b"text" + bytes(4) + ascii_text


def _assemble(header: bytes, tags: list[tuple[bytes, bytes]]) -> bytes:
    table_end = HEADER + 4 + 12 * len(tags)
    offset = table_end + (-table_end % 4)
    entries, blobs = [], []
    for sig, blob in tags:
        entries.append(struct.pack(">4sII", sig, offset, len(blob)))
        padded = blob + bytes(-len(blob) % 4)
        blobs.append(padded)
        offset += len(padded)
    body = struct.pack(">I", len(tags)) + b"".join(entries)
    body += bytes(-(HEADER + len(body)) % 4) + b"".join(blobs)
    profile = bytearray(header + body)
    profile[:4] = struct.pack(">I", len(profile))
    return bytes(profile)
