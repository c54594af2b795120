"""``infoscrub data check|pack``."""

from __future__ import annotations

import argparse
import json
import time


def register(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="check or pack a CelebA-format data folder",
                          description="Check or pack a CelebA-format data folder.")
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    check = data_sub.add_parser(
        "check", help="validate annotations and images, print counts and attribute rates",
        description="Validate a CelebA-format folder (list_attr_celeba.txt, "
        "list_eval_partition.txt, img_align_celeba/ or images/): every row has an image, "
        "every image a row, every image decodes fully. Prints counts and positive rates.")
    check.add_argument("root", help="folder with the annotation files and the image folder")
    check.add_argument("--images", help="image folder, if not img_align_celeba/ or images/")
    check.add_argument("--no-decode", action="store_true",
                       help="skip decoding every image (faster; misses truncated files)")
    check.add_argument("--json", action="store_true", help="print the summary as JSON")
    check.set_defaults(handler=run_check)

    pack = data_sub.add_parser(
        "pack", help="pack a split into a few JPEG shard files for fast loading",
        description="Crop and resize one split to the model size and write it as a few "
        "safetensors shards (JPEG bytes + labels + names, at most 60 MB each) with a "
        "manifest.json. Loading a packed split decodes every image once, in parallel.")
    pack.add_argument("root", help="CelebA-format folder")
    pack.add_argument("--split", default="train", choices=["train", "val", "test", "all"])
    pack.add_argument("--out", required=True, help="output folder for the shards")
    pack.add_argument("--size", type=int, default=128, help="model image size (default 128)")
    pack.add_argument("--alignment", choices=["celeba", "celebahq"],
                      help="crop convention (default: from the folder layout)")
    pack.add_argument("--quality", type=int, default=95, help="JPEG quality for re-encoded images")
    pack.add_argument("--limit", type=int, help="pack only the first N images of the split")
    pack.add_argument("--images", help="image folder, if not img_align_celeba/ or images/")
    pack.add_argument("--force", action="store_true", help="replace an existing packed folder")
    pack.set_defaults(handler=run_pack)


def run_check(args: argparse.Namespace) -> int:
    from infoscrub.data.check import check_folder

    summary = check_folder(args.root, args.images, decode=not args.no_decode)
    print(json.dumps(summary.__dict__, indent=2) if args.json else summary.render())
    return 0


def run_pack(args: argparse.Namespace) -> int:
    from infoscrub.data.shards import PackSettings, pack_split

    settings = PackSettings(split=args.split, size=args.size, alignment=args.alignment,
                            jpeg_quality=args.quality, limit=args.limit)
    start = time.perf_counter()
    manifest = pack_split(args.root, args.out, settings, images=args.images, force=args.force,
                          progress=True)
    total = sum(s["bytes"] for s in manifest["shards"])
    print(f"packed {manifest['count']} images into {len(manifest['shards'])} shards "
          f"({total / 1e6:.1f} MB) in {args.out} in {time.perf_counter() - start:.1f} s")
    return 0
