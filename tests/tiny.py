"""Tiny Stage I settings shared by the training tests: 32 px, widths 8-16, three attributes."""

from pathlib import Path

from infoscrub.config import apply_overrides
from infoscrub.training.stage1 import Stage1Config

ATTRIBUTES = "Male,Smiling,Eyeglasses"
TINY_NETWORKS = ["generator.width=8", "generator.max_channels=16", "discriminator.width=8",
                 "discriminator.max_channels=16", "discriminator.layers=5", "data.image_size=32",
                 f"data.attributes={ATTRIBUTES}"]
TINY_RUN = ["run.batch_size=4", "run.log_every=1", "run.sample_every=1000", "run.progress=false"]


def tiny_config(data_root: Path, *extra: str) -> Stage1Config:
    return apply_overrides(Stage1Config(), TINY_NETWORKS + TINY_RUN + [f"data.path={data_root}", *extra])
