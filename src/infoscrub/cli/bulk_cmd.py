"""``infoscrub bulk SRC DST``: scrub a whole collection on Ray Data (a thin layer over
``infoscrub.bulk``)."""

from __future__ import annotations

import argparse

from infoscrub.edit_request import MODES


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bulk", help="scrub a whole collection on Ray: resumable, exactly once, a Parquet report",
        description="Scrub every photo under SRC (a folder tree, or a Parquet/CSV manifest with a "
        "'path' column) into DST, mirroring SRC's tree, with a pool of Ray actors that load the "
        "models once. Outputs are written atomically; a rerun skips photos already done from the "
        "same bytes with the same settings and redoes missing or failed ones. The per-face report "
        "is Parquet under DST/.infoscrub/report/. Needs the extra: pip install 'infoscrub[bulk]'. "
        "On a cluster: 'ray start --head' on one machine, 'ray start --address=HEAD:6379' on the "
        "others, then this command with --address HEAD:6379. Bulk never writes onto a source photo, never "
        "replaces a file it did not write (unless --force) and refuses a DST another run is writing. "
        "Exit status: 0 every photo finished (scrubbed, no face, or done before); 2 some failed (named on "
        "stderr, all in the report) or the run was refused.")
    p.add_argument("src", help="folder of photos, or a .parquet / .csv manifest with a 'path' column")
    p.add_argument("dst", help="output folder (mirrors SRC's tree)")
    p.add_argument("--attributes", required=True, help="comma-separated attribute names")
    p.add_argument("--mode", choices=MODES, default="invert")
    p.add_argument("--strength", type=float, default=None, help="0-1 (default 1)")
    p.add_argument("--target", action="store_true", help="the smallest strength per face that reaches "
                   "the goal (as in scrub --target)")
    p.add_argument("--target-margin", type=float, default=0.2)
    p.add_argument("--target-tolerance", type=float, default=0.05)
    p.add_argument("--target-after", metavar="CHANNEL")
    p.add_argument("--aligned", action="store_true", help="inputs are aligned face crops")
    p.add_argument("--copy-faceless", action="store_true", help="write photos with no face too")
    p.add_argument("--checkpoint", help="model weights (default: the bundled ones)")
    p.add_argument("--attacker", help="attacker weights for the report (default: bundled)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--identity", action="store_true", help="check that edited faces are still the same "
                   "person (a column of the report; needs infoscrub[identity]; about 0.12 s a face)")
    p.add_argument("--album", action="store_true", help="the collection is one album: faces grouped into "
                   "people, each person one edit in every photo (as scrub --album; needs infoscrub[identity]; "
                   "at most 10,000 faces; every photo is read again on each run to make the plan)")
    p.add_argument("--album-threshold", type=float, default=None, metavar="D",
                   help="face-recognition distance below which two faces are one person (default 0.6)")
    p.add_argument("--actors", type=int, default=2, help="concurrent actors (default 2)")
    p.add_argument("--cpus-per-actor", type=float, default=1.0)
    p.add_argument("--gpus-per-actor", type=float, default=0.0)
    p.add_argument("--batch-size", type=int, default=4, help="photos per actor call (default 4)")
    p.add_argument("--address", help="an existing Ray cluster (default: a local one)")
    p.add_argument("--max-megapixels", type=float, default=120.0)
    p.add_argument("--photo-timeout", type=float, default=300.0, metavar="S",
                   help="one photo's time limit in seconds; a photo that takes longer fails (default 300)")
    p.add_argument("--force", action="store_true", help="replace files in DST that bulk did not write "
                   "(without it such files stop the run before any photo; a source photo is never written)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(handler=run_bulk_cmd)


def run_bulk_cmd(args: argparse.Namespace) -> int:
    import json
    import sys

    from infoscrub.attributes import resolve_attributes
    from infoscrub.bulk import BulkSettings, run_bulk
    from infoscrub.cli.scrub_cmd import target_from_args
    from infoscrub.edit_request import EditRequest
    from infoscrub.errors import InfoscrubError
    from infoscrub.photo_job import ScrubOptions

    args.faces = None
    target = target_from_args(args)
    request = EditRequest(resolve_attributes(args.attributes), mode=args.mode,
                          strength=1.0 if args.strength is None else args.strength, target=target)
    options = ScrubOptions(request, aligned=args.aligned, copy_faceless=args.copy_faceless,
                           max_pixels=int(args.max_megapixels * 1e6))
    settings = BulkSettings(options=options, checkpoint=args.checkpoint, attacker=args.attacker,
                            device=args.device, actors=args.actors, cpus_per_actor=args.cpus_per_actor,
                            gpus_per_actor=args.gpus_per_actor, batch_size=args.batch_size, address=args.address,
                            identity=args.identity, album=args.album, force=args.force,
                            photo_seconds=args.photo_timeout,
                            album_threshold=0.6 if args.album_threshold is None else args.album_threshold)
    if args.album_threshold is not None and not args.album:
        raise InfoscrubError("--album-threshold needs --album")
    summary = run_bulk(args.src, args.dst, settings, progress=not args.quiet)
    counts = summary["counts"]
    for failed in summary["first_errors"]:
        print(f"{failed['photo']}: {failed['error']}", file=sys.stderr)
    if counts.get("error", 0) > len(summary["first_errors"]):
        print(f"... {counts['error']} failed in all: see the report", file=sys.stderr)
    print(f"{summary['photos']} photos in {summary['seconds']} s: "
          + ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
          + f" ({summary['processed']} processed, {summary['photos_per_s']} photos/s); "
          f"{summary['faces']} face rows; report {summary['report']}")
    if "album" in summary:
        print(f"album: {summary['album']['people']} people among {summary['album']['faces']} faces; "
              f"their photos and outcomes in {summary['album']['report']}")
    print(json.dumps(summary))
    return 2 if counts.get("error") else 0
