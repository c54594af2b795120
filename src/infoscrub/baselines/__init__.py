"""Baselines trained and evaluated in the same codebase as InfoScrub (SPEC §4).

- ``stargan`` / ``stargan_training``: StarGAN (Choi et al. 2018), the official 128x128
  release: networks and editor / losses, config and trainer.
- ``icgan`` / ``icgan_training``: IcGAN (Perarnau et al. 2016), adapted from 64x64 to
  128x128, the same split.

The editor modules import nothing from ``infoscrub.training``: opening a baseline checkpoint
loads no training code. Both editors are ``infoscrub.editing.FaceEditor``s with a row in
``infoscrub.editors`` (``load_editor(path)``) and in ``infoscrub.kinds`` (``train``, the
evaluation and ``compare`` treat them like InfoScrub's own models).
"""
