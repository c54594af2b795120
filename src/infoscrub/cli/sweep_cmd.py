"""``infoscrub sweep KEY=V1,V2,...``: a thin layer over ``infoscrub.evaluation.sweep``
(train Stage I once per value, then the privacy/utility table of paper Table 3)."""

from __future__ import annotations

import argparse

NAMED = (("data", "data.path"), ("steps", "run.steps"), ("batch_size", "run.batch_size"),
         ("device", "run.device"), ("attributes", "data.attributes"))


class _IntermixedParser(argparse.ArgumentParser):
    """Accepts the sweep spec first and KEY=VALUE overrides last with options in between
    (plain argparse would consume the empty override list with the spec)."""

    _intermixed = False

    def parse_known_args(self, args=None, namespace=None):
        if self._intermixed:
            return super().parse_known_args(args, namespace)
        self._intermixed = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixed = False


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep", help="train Stage I over values of one setting; privacy/utility table (paper Table 3)",
        description="Train Stage I once per value of one setting (e.g. eps_s=0.05,0.1,0.2, the "
        "privacy/utility dial of paper Table 3), evaluate each run against an unseen adversary "
        "(privacy: its accuracy on the inverted target attributes; utility: on the others) and "
        "write OUT/sweep.md and OUT/sweep.json. Runs go to OUT/KEY=VALUE/; finished runs are "
        "reused and unfinished ones resumed.")
    p.add_argument("spec", metavar="KEY=V1,V2,...",
                   help="the setting to sweep and its values; KEY is a config key (loss.eps_s) or a "
                   "unique leaf name (eps_s)")
    p.add_argument("--base-config", help="JSON or TOML Stage I config file (default: the defaults)")
    p.add_argument("--data", help="training data: CelebA-format folder or packed shards (data.path)")
    p.add_argument("--out", required=True, help="sweep folder")
    p.add_argument("--adversary", required=True, help="adversary checkpoint or exported weights")
    p.add_argument("--steps", type=int, help="training steps per run (run.steps)")
    p.add_argument("--batch-size", type=int, help="batch size per process (run.batch_size)")
    p.add_argument("--attributes", help="comma-separated target attributes (data.attributes)")
    p.add_argument("--device", help="auto | cpu | cuda (run.device and evaluation)")
    p.add_argument("--eval-data", help="evaluation data (default: --data; needed if --data is packed train shards)")
    p.add_argument("--split", default="test", help="evaluation split (default test)")
    p.add_argument("--per-attribute", type=int, default=None, metavar="N",
                   help="at most N positives and N negatives per attribute in evaluation (default: all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the balanced evaluation subsets")
    p.add_argument("--no-eval", action="store_true", help="train only")
    p.add_argument("--reshare", nargs="?", const="all", metavar="CHANNELS",
                   help="privacy also after sharing channels (comma-separated; default all)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="Stage I config overrides for every run")
    p.set_defaults(handler=run_sweep_cmd)
    p.__class__ = _IntermixedParser


def request_from_args(args: argparse.Namespace):
    """The sweep request the command line describes (named options become overrides)."""
    from infoscrub.evaluation.sweep import SweepRequest
    from infoscrub.sharing import resolve_channels

    named = [f"{key}={getattr(args, attr)}" for attr, key in NAMED if getattr(args, attr, None) is not None]
    return SweepRequest(spec=args.spec, out=args.out, adversary=args.adversary,
                        overrides=list(args.overrides) + named, base_config=args.base_config,
                        eval_data=args.eval_data, split=args.split, per_attribute=args.per_attribute,
                        seed=args.seed, evaluate=not args.no_eval, device=args.device or "auto",
                        channels=resolve_channels(args.reshare))


def run_sweep_cmd(args: argparse.Namespace) -> int:
    from infoscrub.evaluation.sweep import run_sweep

    run_sweep(request_from_args(args))
    return 0
