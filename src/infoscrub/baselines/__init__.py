"""Baselines trained and evaluated in the same codebase as InfoScrub (SPEC §4).

- ``infoscrub.baselines.stargan``: StarGAN (Choi et al. 2018), the official 128x128 release.
- ``infoscrub.baselines.icgan``: IcGAN (Perarnau et al. 2016), adapted from 64x64 to 128x128.
- ``infoscrub.baselines.compare``: the comparison tables (paper Table A1, Table 2, FID) built
  from the ``metrics.json`` files that ``infoscrub evaluate`` writes.

Both editors follow ``infoscrub.inference.Editor``'s interface, so ``load_editor(path)``
and the evaluation treat them like InfoScrub's own models. Modules are imported lazily.
"""
