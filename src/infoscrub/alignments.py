"""The names of the face alignment conventions a model is trained and used in.

``celeba``: the original aligned CelebA release (178x218): centre crop, resize.
``celebahq``: CelebA-HQ / FFHQ-style square crops. The geometry of each lives in
``data/conventions.py`` (stored images) and ``faces/align.py`` (new photos); the name is
recorded in shards, configs, checkpoints and weights files.
"""

ALIGNMENTS = ("celeba", "celebahq")
