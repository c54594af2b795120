"""``infoscrub evaluate``: the paper's evaluation protocol (a thin layer over
``infoscrub.evaluation.protocol.run_evaluation``)."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate", help="evaluate a model against an unseen adversary (paper tables, figures)",
        description="Invert (and, with a Stage II model, obfuscate) each target attribute on a "
        "test set balanced for it, judge the results with an independently trained adversary, "
        "and write report.md (tables laid out like the paper's, its numbers beside ours), "
        "metrics.json and figures into --out. Nothing is downloaded: FID runs only with local "
        "InceptionV3 weights.")
    p.add_argument("--checkpoint", required=True,
                   help="model: stage1/stage2 checkpoint, exported weights or a baseline checkpoint")
    p.add_argument("--adversary", required=True, help="adversary checkpoint or exported weights")
    p.add_argument("--data", required=True, help="CelebA-format folder or packed shard folder")
    p.add_argument("--split", default="test", help="split to evaluate on (default test)")
    p.add_argument("--out", required=True, help="output folder for report.md, metrics.json, figures")
    p.add_argument("--per-attribute", type=int, default=None, metavar="N",
                   help="at most N positives and N negatives per attribute (default: all the "
                   "rarer class allows)")
    p.add_argument("--attributes", help="comma-separated target attributes (default: the model's)")
    p.add_argument("--fid-weights", metavar="FILE",
                   help="pytorch-fid InceptionV3 state dict (pt_inception-2015-12-05-*.pth); "
                   "default $INFOSCRUB_FID_WEIGHTS; without it FID is skipped")
    p.add_argument("--batch-size", type=int, default=64, help="images per forward pass (default 64)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda (default auto)")
    p.add_argument("--seed", type=int, default=0, help="seed of the balanced subsets (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--reshare", nargs="?", const="all", metavar="CHANNELS",
                   help="also judge the edits after sharing channels (comma-separated; default all: "
                   "jpeg90, jpeg75, jpeg50, down2, down4, down2_jpeg75, screenshot)")
    p.add_argument("--identity", nargs="?", type=int, const=100, metavar="N",
                   help="also check that edited faces are still the same person, on the first N faces "
                   "of each attribute (default 100; about 60 ms a face on a CPU core; needs the extra "
                   "infoscrub[identity])")
    p.add_argument("--album", metavar="FOLDER",
                   help="also run the multi-photo attacker: a CelebA-format folder with an identity file "
                   "(identity_CelebA.txt), e.g. ../shared/data/celeba_aligned_sample; the adversary's belief "
                   "averaged over k = 1, 3, 10 photos of a person, photo-by-photo against album scrubbing")
    p.add_argument("--album-draws", type=int, default=50, metavar="N",
                   help="random choices of k photos per person (default 50)")
    p.set_defaults(handler=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    from infoscrub.attributes import parse_attribute_list
    from infoscrub.data import load_image_set
    from infoscrub.errors import InfoscrubError
    from infoscrub.evaluation.protocol import run_evaluation
    from infoscrub.editors import load_editor
    from infoscrub.inference import Attacker
    from infoscrub.training.loop import resolve_device

    if args.per_attribute is not None and args.per_attribute < 1:
        raise InfoscrubError("--per-attribute must be at least 1")
    if args.batch_size < 1:
        raise InfoscrubError("--batch-size must be at least 1")
    from infoscrub.sharing import resolve_channels

    channels = resolve_channels(args.reshare)
    if args.identity is not None and args.identity < 1:
        raise InfoscrubError("--identity takes a number of faces of at least 1")
    device = resolve_device(args.device)
    editor = load_editor(args.checkpoint, device)
    attacker = Attacker.load(args.adversary, device)
    attributes = parse_attribute_list(args.attributes) if args.attributes else None
    if args.album_draws < 1:
        raise InfoscrubError("--album-draws must be at least 1")
    image_set = load_image_set(args.data, args.split, editor.image_size, editor.alignment)
    album = None
    if args.album:
        from infoscrub.evaluation.people import load_people

        album = load_people(args.album, editor.alignment, editor.image_size)
    metrics = run_evaluation(
        editor, attacker, image_set, args.out, attributes=attributes, per_attribute=args.per_attribute,
        seed=args.seed, batch_size=args.batch_size, fid_weights=args.fid_weights,
        progress=not args.quiet, checkpoint=args.checkpoint, adversary=args.adversary,
        data={"root": str(args.data)}, log=lambda s: print(s, file=sys.stderr), channels=channels,
        identity_faces=args.identity, album=album, album_draws=args.album_draws)

    def fmt(v):
        return "n/a" if v is None else f"{v:.3f}"

    shared = "".join(f"  after {c} {fmt(v)}" for c, v in metrics.get("privacy_shared", {}).items())
    same = metrics["mean"].get("identity") or {}
    kept = f"  same person {fmt((same.get('label_free') or {}).get('verified'))}" if same else ""
    if "album" in metrics:
        top = str(max(metrics["album"]["ks"]))
        print("album attacker, accuracy over " + top + " photos: " + ", ".join(
            f"{name} {fmt(entry['k'][top]['accuracy'])}" for name, entry in metrics["album"]["mean"].items()))
    print(f"privacy {fmt(metrics['privacy'])}{shared}  utility {fmt(metrics['utility'])}{kept}  "
          f"fid {fmt(metrics['fid'])}  -> {args.out}/report.md")
    return 0
