"""The ``infoscrub`` command: a thin layer over the Python API.

Each subcommand lives in its own module with ``register(subparsers)``; parsers import
nothing heavy so ``--help`` is instant. Expected failures (``InfoscrubError``) become one
line on stderr and their exit code (2; 3 for a photo with no face); anything else is a bug,
reported in one line with exit code 1 (``INFOSCRUB_DEBUG=1`` re-raises it); interrupts
exit 130.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from infoscrub import __version__
from infoscrub.errors import InfoscrubError

# Subcommand modules, in the order ``infoscrub --help`` lists them.
COMMAND_MODULES = [
    "infoscrub.cli.data_cmd",
    "infoscrub.cli.train_cmd",
    "infoscrub.cli.scrub_cmd",
    "infoscrub.cli.serve_cmd",
    "infoscrub.cli.evaluate_cmd",
    "infoscrub.cli.sweep_cmd",
    "infoscrub.cli.compare_cmd",
    "infoscrub.cli.toy_cmd",
    "infoscrub.cli.export_cmd",
    "infoscrub.cli.bulk_cmd",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="infoscrub",
        description="Hide chosen face attributes in photos (InfoScrub: targeted inversion "
        "and obfuscation), train and evaluate the models.",
    )
    parser.add_argument("--version", action="version", version=f"infoscrub {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.handler(args)
    except InfoscrubError as exc:
        print(f"infoscrub: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # output piped into e.g. `head`: not an error of ours
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("infoscrub: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line for the user, the traceback on request
        if os.environ.get("INFOSCRUB_DEBUG"):
            raise
        detail = " ".join(str(exc).split())[:300]
        print(f"infoscrub: internal error ({type(exc).__name__}: {detail}); please report it "
              "(INFOSCRUB_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 1
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
