"""``infoscrub export``: a training checkpoint -> compact inference weights (safetensors)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help="write a checkpoint's inference networks as fp16 safetensors",
        description="Keep only what inference needs (Stage I generator; Stage II generator + "
        "mixer; or the adversary) with the checkpoint's config, attribute names, alignment and "
        "image size, in one safetensors file (fp16 by default): the format of bundled weights, "
        "readable by every --checkpoint / --attacker option.")
    p.add_argument("checkpoint", help="stage1, stage2 or adversary checkpoint.pt")
    p.add_argument("--out", required=True, help="output .safetensors file")
    p.add_argument("--fp32", action="store_true", help="keep float32 (default: float16)")
    p.add_argument("--force", action="store_true", help="replace an existing output file")
    p.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from infoscrub.errors import InfoscrubError
    from infoscrub.inference import export_weights

    out = Path(args.out)
    if out.suffix != ".safetensors":
        raise InfoscrubError(f"{out} should end in .safetensors")
    if out.exists() and not args.force:
        raise InfoscrubError(f"{out} already exists; use --force to replace it")
    export_weights(args.checkpoint, out, half=not args.fp32)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0
