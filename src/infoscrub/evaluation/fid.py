"""Fréchet Inception Distance with pytorch-fid's InceptionV3 and *local* weights.

The network is pytorch-fid's own ``InceptionV3`` (the FID variant of the 2015-12-05
TensorFlow Inception: patched pooling blocks, 2048-d final average pool, bilinear resize
to 299x299 and scaling of [0, 1] input to [-1, 1]); the weights come from a local
``pt_inception-2015-12-05-*.pth`` state dict given by ``--fid-weights`` or the
``INFOSCRUB_FID_WEIGHTS`` environment variable. Nothing is downloaded: pytorch-fid's
downloader is replaced by the local file while the network is built. Images enter as
uint8, i.e. exactly what pytorch-fid sees after reading saved PNGs (``ToTensor``).

The Fréchet distance itself is ours (numpy): ||mu1 - mu2||^2 + Tr(S1) + Tr(S2)
- 2 Tr((S1 S2)^(1/2)), the trace term computed as the sum of square roots of the
eigenvalues of the symmetric PSD matrix S1^(1/2) S2 S1^(1/2) (similar to S1 S2), which
needs no complex arithmetic and no diagonal offset for singular covariances.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import torch
from torch import nn

from infoscrub.errors import InfoscrubError

ENV_WEIGHTS = "INFOSCRUB_FID_WEIGHTS"
FID_SKIPPED = "FID skipped: no InceptionV3 weights given (--fid-weights)"
FEATURE_DIM = 2048
_BUILD_LOCK = threading.Lock()


def resolve_fid_weights(path: str | Path | None) -> Path | None:
    """The weights file to use: the argument, else $INFOSCRUB_FID_WEIGHTS, else None."""
    chosen = path if path not in (None, "") else os.environ.get(ENV_WEIGHTS) or None
    if chosen is None:
        return None
    chosen = Path(chosen)
    if not chosen.is_file():
        raise InfoscrubError(f"FID weights file {chosen} does not exist")
    return chosen


def build_fid_inception(weights: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """pytorch-fid's InceptionV3 (2048-d pool features) with weights from a local file."""
    try:
        from pytorch_fid import inception as pfi
    except ImportError:
        raise InfoscrubError("FID needs the pytorch-fid package (pip install pytorch-fid); "
                             "its weights are read from --fid-weights, never downloaded") from None
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InfoscrubError(f"{weights} is not a readable InceptionV3 state dict ({first[:200]})") from None
    if not isinstance(state, dict):
        raise InfoscrubError(f"{weights} is not an InceptionV3 state dict")

    def local_state(url, *args, **kwargs):  # stands in for the downloader
        return state

    with _BUILD_LOCK:
        original = pfi.load_state_dict_from_url
        pfi.load_state_dict_from_url = local_state
        try:
            model = pfi.InceptionV3([pfi.InceptionV3.BLOCK_INDEX_BY_DIM[FEATURE_DIM]])
        except RuntimeError as exc:
            detail = " ".join(str(exc).split())[:300]
            raise InfoscrubError(f"{weights} does not fit pytorch-fid's InceptionV3: {detail}") from None
        finally:
            pfi.load_state_dict_from_url = original
    return model.to(device).eval()


@torch.no_grad()
def inception_features(model: nn.Module, images: torch.Tensor) -> np.ndarray:
    """(B, 2048) float64 pool features of uint8 images (B, 3, H, W)."""
    device = next(model.parameters()).device
    x = images.to(device).float().div_(255.0)
    feats = model(x)[0]
    if feats.shape[2:] != (1, 1):  # as pytorch-fid: pool if the network did not
        feats = torch.nn.functional.adaptive_avg_pool2d(feats, (1, 1))
    return feats.flatten(1).double().cpu().numpy()


class GaussianStats:
    """Running mean and covariance of feature vectors (float64, np.cov's ddof=1)."""

    def __init__(self, dim: int = FEATURE_DIM) -> None:
        self.n = 0
        self.sum = np.zeros(dim)
        self.outer = np.zeros((dim, dim))

    def add(self, feats: np.ndarray) -> None:
        feats = np.asarray(feats, dtype=np.float64)
        self.n += feats.shape[0]
        self.sum += feats.sum(0)
        self.outer += feats.T @ feats

    def mean_cov(self) -> tuple[np.ndarray, np.ndarray]:
        if self.n < 2:
            raise InfoscrubError("FID needs at least two images per set")
        mu = self.sum / self.n
        cov = (self.outer - self.n * np.outer(mu, mu)) / (self.n - 1)
        return mu, cov


def _sym_sqrt(matrix: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Squared Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2)."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise ValueError("means and covariances must have matching dimensions")
    half = _sym_sqrt(s1)
    inner = half @ s2 @ half
    eig = np.linalg.eigvalsh((inner + inner.T) / 2)
    tr_covmean = float(np.sqrt(np.clip(eig, 0, None)).sum())
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean)


def fid_from_stats(a: GaussianStats, b: GaussianStats) -> float:
    return frechet_distance(*a.mean_cov(), *b.mean_cov())
