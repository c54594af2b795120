"""Files at the bottom of the layers: atomic writes, training checkpoints, exported weights.

Every layer may import from here, and this package imports only ``errors``, ``attributes``
and ``alignments`` (docs/architecture.md): data, models, training, inference and the rounds
all read and write their files through it.
"""
