"""Networks: the Stage I U-Net editor, the multi-head discriminator, the Stage II mixer."""

from infoscrub.models.discriminator import Discriminator, DiscriminatorConfig
from infoscrub.models.generator import GeneratorConfig, UNetEditor
from infoscrub.models.mixer import MixerConfig, ObfuscationMixer, mix

__all__ = [
    "Discriminator", "DiscriminatorConfig", "GeneratorConfig", "MixerConfig", "ObfuscationMixer",
    "UNetEditor", "count_parameters", "mix",
]


def count_parameters(module) -> int:
    return sum(p.numel() for p in module.parameters())
