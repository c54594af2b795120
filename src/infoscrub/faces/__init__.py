"""Faces in real photos: detection with landmarks (MTCNN), alignment to the training
convention, and pasting an edit back at full resolution."""

from infoscrub.faces.align import alignment_matrix, warp_crop
from infoscrub.faces.detect import Face, detect_faces
from infoscrub.faces.paste import paste_change

__all__ = ["Face", "alignment_matrix", "detect_faces", "paste_change", "warp_crop"]
