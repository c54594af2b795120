"""Stopping a real trainer right after a checkpoint, as a killed job would stop."""

from pathlib import Path

import pytest

from infoscrub.storage.checkpoints import load_checkpoint


def train_until(train, cfg, out: Path, stop_after: int) -> None:
    """Run ``train(cfg, out)`` and interrupt it right after its checkpoint at ``stop_after``."""
    from infoscrub.training import loop

    original = loop.save_run_state

    def save_then_stop(task, ctx, config, out_dir, step, *args):
        original(task, ctx, config, out_dir, step, *args)
        if step == stop_after:
            raise KeyboardInterrupt

    loop.save_run_state = save_then_stop
    try:
        with pytest.raises(KeyboardInterrupt):
            train(cfg, out)
    finally:
        loop.save_run_state = original
    assert load_checkpoint(out / "checkpoint.pt")["step"] == stop_after
