"""The 40 CelebA attributes and the selection of the ones a model works on.

Every head size in the package is derived from a resolved attribute list, never a count
kept by hand (StarGAN's separately synced ``c_dim`` is the fault this avoids).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from infoscrub.errors import InfoscrubError

CELEBA_ATTRIBUTES: tuple[str, ...] = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs",
    "Big_Lips", "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair",
    "Bushy_Eyebrows", "Chubby", "Double_Chin", "Eyeglasses", "Goatee", "Gray_Hair",
    "Heavy_Makeup", "High_Cheekbones", "Male", "Mouth_Slightly_Open", "Mustache",
    "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline",
    "Rosy_Cheeks", "Sideburns", "Smiling", "Straight_Hair", "Wavy_Hair", "Wearing_Earrings",
    "Wearing_Hat", "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie", "Young",
)

# How the privacy report says it in plain language: "an attacker who was 94% sure this
# person wears glasses is now 51% sure".
PHRASES: dict[str, str] = {
    "5_o_Clock_Shadow": "has a five o'clock shadow", "Arched_Eyebrows": "has arched eyebrows",
    "Attractive": "is attractive", "Bags_Under_Eyes": "has bags under the eyes", "Bald": "is bald",
    "Bangs": "has bangs", "Big_Lips": "has big lips", "Big_Nose": "has a big nose",
    "Black_Hair": "has black hair", "Blond_Hair": "has blond hair", "Blurry": "is blurry",
    "Brown_Hair": "has brown hair", "Bushy_Eyebrows": "has bushy eyebrows", "Chubby": "is chubby",
    "Double_Chin": "has a double chin", "Eyeglasses": "wears glasses", "Goatee": "has a goatee",
    "Gray_Hair": "has grey hair", "Heavy_Makeup": "wears heavy makeup",
    "High_Cheekbones": "has high cheekbones", "Male": "is a man", "Mouth_Slightly_Open": "has the mouth open",
    "Mustache": "has a moustache", "Narrow_Eyes": "has narrow eyes", "No_Beard": "has no beard",
    "Oval_Face": "has an oval face", "Pale_Skin": "has pale skin", "Pointy_Nose": "has a pointy nose",
    "Receding_Hairline": "has a receding hairline", "Rosy_Cheeks": "has rosy cheeks",
    "Sideburns": "has sideburns", "Smiling": "is smiling", "Straight_Hair": "has straight hair",
    "Wavy_Hair": "has wavy hair", "Wearing_Earrings": "wears earrings", "Wearing_Hat": "wears a hat",
    "Wearing_Lipstick": "wears lipstick", "Wearing_Necklace": "wears a necklace",
    "Wearing_Necktie": "wears a necktie", "Young": "is young",
}

# SPEC section 4: the ten attributes of the paper's tables.
DEFAULT_ATTRIBUTES: tuple[str, ...] = (
    "Blond_Hair", "Eyeglasses", "Heavy_Makeup", "Male", "No_Beard",
    "Pale_Skin", "Smiling", "Wearing_Hat", "Wearing_Lipstick", "Young",
)


def parse_attribute_list(text: str | Sequence[str] | None) -> list[str]:
    """Split a comma-separated string (or pass a sequence through); None means the default."""
    if text is None:
        return list(DEFAULT_ATTRIBUTES)
    if isinstance(text, str):
        items = [t.strip() for t in text.split(",")]
        return [t for t in items if t]
    return list(text)


def resolve_attributes(
    names: str | Sequence[str] | None, available: Iterable[str] = CELEBA_ATTRIBUTES
) -> list[str]:
    """Return the chosen attribute names, validated against ``available``.

    Matching ignores case so ``male`` finds ``Male``; the canonical spelling is returned.
    Unknown or repeated names are a one-line error that lists the valid names.
    """
    available = list(available)
    by_lower = {a.lower(): a for a in available}
    chosen: list[str] = []
    for name in parse_attribute_list(names):
        canonical = by_lower.get(name.lower())
        if canonical is None:
            raise InfoscrubError(
                f"unknown attribute {name!r}; valid names: {', '.join(available)}"
            )
        if canonical in chosen:
            raise InfoscrubError(f"attribute {canonical!r} is given twice")
        chosen.append(canonical)
    if not chosen:
        raise InfoscrubError("no attributes chosen; give at least one name")
    return chosen
