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
    p.add_argument("--adaptive", action="store_true",
                   help="also measure the attacker who knows infoscrub: scrub the training split with the "
                   "model, train a fresh attacker on the scrubbed faces with their true labels, judge the "
                   "scrubbed test faces (about 3 minutes an attacker on 2 CPU cores at 64 px)")
    p.add_argument("--adaptive-policy", action="append", metavar="MODE[@STRENGTH][:key=value,...]",
                   help="how faces are scrubbed for it, repeatable (default: invert, and obfuscate when the "
                   "model can): the mode, its strength, and a randomised defence drawn per face (strength=LOW "
                   "a strength in [LOW, STRENGTH], extra=P further attributes edited, noise=STD on the mixing "
                   "map), e.g. obfuscate:strength=0.5,extra=0.3,noise=0.2")
    p.add_argument("--adaptive-budgets", default="100,1000,all", metavar="LIST",
                   help="labelled training faces the attacker gets (default 100,1000,all)")
    p.add_argument("--adaptive-steps", type=int, default=1500, metavar="N",
                   help="training steps of each adaptive attacker (default 1500 of 64 faces)")
    p.add_argument("--adaptive-train-limit", type=int, metavar="N",
                   help="scrub only the first N training faces (default all)")
    p.add_argument("--adaptive-sees-strength", action="store_true",
                   help="also an attacker given each face's strength (matters with random strengths)")
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
    adaptive = adaptive_request(args, editor) if args.adaptive else None
    metrics = run_evaluation(
        editor, attacker, image_set, args.out, attributes=attributes, per_attribute=args.per_attribute,
        seed=args.seed, batch_size=args.batch_size, fid_weights=args.fid_weights,
        progress=not args.quiet, checkpoint=args.checkpoint, adversary=args.adversary,
        data={"root": str(args.data)}, log=lambda s: print(s, file=sys.stderr), channels=channels,
        identity_faces=args.identity, album=album, album_draws=args.album_draws, adaptive=adaptive)

    def fmt(v):
        return "n/a" if v is None else f"{v:.3f}"

    shared = "".join(f"  after {c} {fmt(v)}" for c, v in metrics.get("privacy_shared", {}).items())
    same = metrics["mean"].get("identity") or {}
    kept = f"  same person {fmt((same.get('label_free') or {}).get('verified'))}" if same else ""
    if "album" in metrics:
        top = str(max(metrics["album"]["ks"]))
        print("album attacker, accuracy over " + top + " photos: " + ", ".join(
            f"{name} {fmt(entry['k'][top]['accuracy'])}" for name, entry in metrics["album"]["mean"].items()))
    for entry in (metrics.get("adaptive") or {}).get("policies", []):
        best = entry["adaptive"][list(entry["adaptive"])[-1]]["scrubbed"]
        print(f"adaptive attacker, {entry['name']}: accuracy "
              f"{sum(r['accuracy'] for r in best.values()) / len(best):.3f} (fixed attacker "
              f"{sum(r['accuracy'] for r in entry['fixed'].values()) / len(entry['fixed']):.3f})")
    print(f"privacy {fmt(metrics['privacy'])}{shared}  utility {fmt(metrics['utility'])}{kept}  "
          f"fid {fmt(metrics['fid'])}  -> {args.out}/report.md")
    return 0


def adaptive_request(args: argparse.Namespace, editor):
    """(training faces, AdaptiveConfig) of ``--adaptive`` and its settings."""
    from dataclasses import replace

    from infoscrub.data import load_image_set
    from infoscrub.errors import InfoscrubError
    from infoscrub.evaluation.adaptive import AdaptiveConfig, ScrubPolicy, parse_budgets, parse_policy

    if args.adaptive_steps < 1:
        raise InfoscrubError("--adaptive-steps must be at least 1")
    if args.adaptive_train_limit is not None and args.adaptive_train_limit < 1:
        raise InfoscrubError("--adaptive-train-limit must be at least 1")
    policies = ([parse_policy(p) for p in args.adaptive_policy] if args.adaptive_policy else
                [ScrubPolicy(m) for m in ("invert", "obfuscate") if m == "invert" or editor.can_obfuscate])
    if any(p.mode == "obfuscate" for p in policies) and not editor.can_obfuscate:
        raise InfoscrubError("this model cannot obfuscate (no Stage II mixer); drop the obfuscate policy")
    cfg = AdaptiveConfig(policies=policies, budgets=parse_budgets(args.adaptive_budgets),
                         see_strength=args.adaptive_sees_strength, train_limit=args.adaptive_train_limit,
                         seed=args.seed)
    cfg.attacker.run = replace(cfg.attacker.run, steps=args.adaptive_steps, device=str(editor.device))
    train = load_image_set(args.data, "train", editor.image_size, editor.alignment, limit=args.adaptive_train_limit)
    return train, cfg
