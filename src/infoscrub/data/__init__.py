"""Data layer: CelebA-format folders, alignment conventions, packed shards, device batches."""

from infoscrub.data.celeba import CelebAIndex, read_celeba_folder
from infoscrub.data.conventions import ALIGNMENTS, prepare_image
from infoscrub.data.imageset import ImageSet, load_image_set

__all__ = [
    "ALIGNMENTS",
    "CelebAIndex",
    "ImageSet",
    "load_image_set",
    "prepare_image",
    "read_celeba_folder",
]
