"""Baselines trained and evaluated in the same codebase as InfoScrub (SPEC §4).

- ``infoscrub.baselines.stargan``: StarGAN (Choi et al. 2018), the official 128x128 release.
- ``infoscrub.baselines.icgan``: IcGAN (Perarnau et al. 2016), adapted from 64x64 to 128x128.

Both editors are ``infoscrub.editing.FaceEditor``s and each has its row in
``infoscrub.kinds``, so ``load_editor(path)``, ``train``, the evaluation and ``compare``
(``infoscrub.evaluation.compare``) treat them like InfoScrub's own models.
"""
