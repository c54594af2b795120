"""One table of model kinds: what each kind of checkpoint is and where its pieces live.

A kind is what a checkpoint says it is (``kind`` in every checkpoint and weights file).
Its row names, as ``module:attribute`` strings resolved only by ``infoscrub train`` (so
this table sits at the bottom of the layers and imports nothing): the config dataclass and
the training function (``infoscrub train KIND``); and the networks its files hold
(validation, export) and its row in the paper's tables (``evaluate``, ``compare``).
Which editor class opens a kind's checkpoints is ``infoscrub.editors``. Adding a baseline
is one row here, one in ``infoscrub.editors`` and its modules.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ModelKind:
    name: str
    help: str
    config: str  # "module:Class" of the typed config
    train: str  # "module:function" with train(cfg, out, resume)
    networks: tuple[str, ...]  # networks a checkpoint or weights file of this kind holds
    paper_method: str | None = None  # the method's name in the paper's tables
    options: tuple[tuple[str, str, str], ...] = field(default_factory=tuple)  # (flag, config key, help)


KINDS: dict[str, ModelKind] = {k.name: k for k in (
    ModelKind("stage1", "Stage I: attribute inversion (bi-directional discriminator or an ablation)",
              "infoscrub.training.stage1:Stage1Config", "infoscrub.training.stage1:train_stage1",
              ("generator",), "InfoScrub",
              (("--variant", "variant", "bidirectional | d_attr | d_attr_at"),)),
    ModelKind("stage2", "Stage II: the obfuscation mixer on a frozen Stage I model",
              "infoscrub.training.stage2:Stage2Config", "infoscrub.training.stage2:train_stage2",
              ("generator", "mixer"), "InfoScrub",
              (("--stage1", "stage1_checkpoint", "Stage I checkpoint to build on"),)),
    ModelKind("adversary", "the unseen ResNet-18 attribute adversary (mixup) used for evaluation",
              "infoscrub.training.adversary:AdversaryTrainConfig", "infoscrub.evaluation.adversary:train_adversary",
              ("adversary",)),
    ModelKind("stargan", "baseline: StarGAN (Choi et al. 2018), official 128x128 architecture",
              "infoscrub.baselines.stargan_training:StarGANConfig",
              "infoscrub.baselines.stargan_training:train_stargan", ("generator", "discriminator"), "StarGAN"),
    ModelKind("icgan", "baseline: IcGAN (Perarnau et al. 2016) adapted to 128x128",
              "infoscrub.baselines.icgan_training:IcGANConfig", "infoscrub.baselines.icgan_training:train_icgan",
              ("generator", "encoder_z", "encoder_y"), "IcGAN"),
)}


def resolve(ref: str) -> Any:
    """The object a ``module:attribute`` reference names."""
    module, _, attribute = ref.partition(":")
    return getattr(importlib.import_module(module), attribute)

