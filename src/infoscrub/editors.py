"""Which editor opens which kind of checkpoint: InfoScrub's own and the baselines'.

The one place that names every editing model, by import: it sits above ``inference`` and
``baselines`` (so neither needs the other) and below what edits photos (the scrubber, the
``evaluate`` command). A new editor kind is one row here, its row in ``infoscrub.kinds``
(training and the paper's tables) and its module.
"""

from __future__ import annotations

from pathlib import Path

import torch

from infoscrub.baselines.icgan import IcGANEditor
from infoscrub.baselines.stargan import StarGANEditor
from infoscrub.editing import FaceEditor
from infoscrub.errors import InfoscrubError
from infoscrub.inference import Editor
from infoscrub.storage.checkpoints import load_checkpoint

# checkpoint kind -> the editor class whose from_checkpoint(path, state, device) builds it
EDITORS: dict[str, type] = {
    "stage1": Editor,
    "stage2": Editor,
    "stargan": StarGANEditor,
    "icgan": IcGANEditor,
}


def load_editor(path: str | Path | None = None, device: str | torch.device = "cpu") -> FaceEditor:
    """Any editing model: InfoScrub's exported weights (None: the bundled ones) or a training
    checkpoint of any kind in ``EDITORS``, read once."""
    if path is None or Path(path).suffix != ".pt":
        return Editor.load(path, device)  # safetensors weights are only made for InfoScrub
    path = Path(path)
    state = load_checkpoint(path)
    editor = EDITORS.get(state["kind"])
    if editor is None:
        raise InfoscrubError(f"{path} is a {state['kind']} checkpoint, not an editing model")
    return editor.from_checkpoint(path, state, device)
