"""Throughput of ``infoscrub evaluate`` against the bare model passes it needs.

The bare passes, on the same balanced subsets, batch size and device: per target attribute
``editor.edit`` label-free, labelled and (with a mixer) obfuscate, ``attacker.predict`` on
each of those outputs, plus ``attacker.predict`` once on the real images. The evaluation
(``infoscrub.evaluation.collect.collect`` + ``summary.summarise``) should cost at most 25% more; it can
cost less, because it shares the encoder pass between the three edits and decodes the
labelled edit only where the model's own reading of the attribute differs from the label.

    .venv/bin/python benchmarks/evaluate.py                       # untrained models, shared data
    .venv/bin/python benchmarks/evaluate.py --checkpoint ckpt.pt --adversary adv.pt --device cuda

Without checkpoints it uses untrained models: an Editor of ``--editor-width`` with a mixer
(random residual head, so edits change the image) and a ResNet-18 adversary of
``--adversary-width`` (64 = the real ResNet-18). Data: ``--data`` or ../shared/data/
celebahq128 when present, else random images with random labels.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data" / "celebahq128"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def make_models(args, device):
    from infoscrub.attributes import CELEBA_ATTRIBUTES, DEFAULT_ATTRIBUTES
    from infoscrub.editors import load_editor
    from infoscrub.inference import Attacker, Editor
    from infoscrub.models.adversary import AdversaryConfig, build_adversary

    if args.checkpoint:
        editor = load_editor(args.checkpoint, device)
    else:
        editor = Editor.untrained(list(DEFAULT_ATTRIBUTES), width=args.editor_width, seed=0)
        torch.nn.init.normal_(editor.generator.to_residual.weight, std=0.05)
        editor = Editor(editor.generator, editor.attributes, editor.alignment, editor.image_size,
                        editor.mixer, device, editor.info)
    if args.adversary:
        attacker = Attacker.load(args.adversary, device)
    else:
        torch.manual_seed(1)
        model = build_adversary(len(CELEBA_ATTRIBUTES), AdversaryConfig(width=args.adversary_width))
        attacker = Attacker(model, list(CELEBA_ATTRIBUTES), editor.image_size, device)
    return editor, attacker


def load_data(args, editor):
    from infoscrub.attributes import CELEBA_ATTRIBUTES
    from infoscrub.data import load_image_set
    from infoscrub.data.imageset import ImageSet

    root = Path(args.data) if args.data else (SHARED_DATA if SHARED_DATA.is_dir() else None)
    if root is not None:
        return load_image_set(root, args.split, editor.image_size, editor.alignment), str(root)
    n = 2000
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, editor.image_size, editor.image_size), dtype=torch.uint8, generator=gen)
    labels = (torch.rand(n, 40, generator=gen) < 0.3).to(torch.uint8)
    return ImageSet(images, labels, [str(i) for i in range(n)], list(CELEBA_ATTRIBUTES),
                    editor.alignment, "test"), "random images"


@torch.no_grad()
def bare_passes(editor, attacker, image_set, attributes, per_attribute, seed, batch_size) -> float:
    """Seconds of the model passes the evaluation needs, called the plain way."""
    from infoscrub.data.balanced import balanced_indices
    from infoscrub.data.batches import to_model_range

    truth = image_set.targets(attributes).numpy().astype(bool)
    subsets = [balanced_indices(truth[:, k], per_attribute, seed, key=a) for k, a in enumerate(attributes)]
    union = np.unique(np.concatenate(subsets))
    labels_all = image_set.targets(editor.attributes)
    device = editor.device
    sync(device)
    start = time.perf_counter()
    for s in range(0, len(union), batch_size):
        idx = torch.as_tensor(union[s:s + batch_size])
        attacker.predict(to_model_range(image_set.images[idx].to(device)))
    for a, subset in zip(attributes, subsets):
        for s in range(0, len(subset), batch_size):
            idx = torch.as_tensor(subset[s:s + batch_size])
            x = to_model_range(image_set.images[idx].to(device))
            outs = [editor.edit(x, [a]), editor.edit(x, [a], labels=labels_all[idx])]
            if editor.can_obfuscate:
                outs.append(editor.edit(x, [a], "obfuscate"))
            for y in outs:
                attacker.predict(y)
    sync(device)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint")
    parser.add_argument("--adversary")
    parser.add_argument("--data")
    parser.add_argument("--split", default="test")
    parser.add_argument("--attributes", help="comma-separated (default: the model's)")
    parser.add_argument("--per-attribute", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--editor-width", type=int, default=16)
    parser.add_argument("--adversary-width", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--repeats", type=int, default=2, help="timed repeats; the best is reported")
    parser.add_argument("--full", action="store_true", help="also time run_evaluation with figures and report")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    from infoscrub.attributes import parse_attribute_list, resolve_attributes
    from infoscrub.evaluation.collect import CollectOptions, collect
    from infoscrub.evaluation.protocol import run_evaluation
    from infoscrub.evaluation.summaries.adversary import CODE_ACCURACY
    from infoscrub.evaluation.summary import summarise
    from infoscrub.training.loop import resolve_device

    device = resolve_device(args.device)
    editor, attacker = make_models(args, device)
    start = time.perf_counter()
    image_set, source = load_data(args, editor)
    load_s = time.perf_counter() - start
    attributes = resolve_attributes(parse_attribute_list(args.attributes) if args.attributes else editor.attributes,
                                    editor.attributes)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"device {device} ({name}), torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"data {source}: {len(image_set)} {image_set.split} images decoded in {load_s:.1f}s")
    print(f"{len(attributes)} attributes x up to {args.per_attribute} per class, batch {args.batch_size}, "
          f"obfuscation {'yes' if editor.can_obfuscate else 'no'}")

    # warm-up (cuDNN / oneDNN kernel selection) on a small run
    collect(editor, attacker, image_set, CollectOptions(attributes[:1], 2, 0, args.batch_size, progress=False))
    bare_passes(editor, attacker, image_set, attributes[:1], 2, 0, args.batch_size)

    ev_times, bare_times, n_images, disagree = [], [], 0, None
    for _ in range(args.repeats):
        sync(device)
        start = time.perf_counter()
        options = CollectOptions(attributes, args.per_attribute, 0, args.batch_size, progress=False)
        col = collect(editor, attacker, image_set, options)
        summary = summarise(col)
        sync(device)
        ev_times.append(time.perf_counter() - start)
        bare_times.append(bare_passes(editor, attacker, image_set, attributes, args.per_attribute, 0,
                                      args.batch_size))
        n_images = sum(len(r.indices) for r in col.runs.values())
        agree = list(summary.per(CODE_ACCURACY).values())
        if all(v is not None for v in agree):
            disagree = 1 - float(np.mean(agree))
    t_ev, t_bare = min(ev_times), min(bare_times)
    print(f"edited images per pass: {n_images} (+ {col.n_union} real images judged once)")
    if disagree is not None:
        print(f"labelled edits decoded separately (code reading != label): {100 * disagree:.1f}%")
    print(f"evaluate (protocol):   {t_ev:8.2f}s  {n_images / t_ev:8.1f} images/s")
    print(f"bare model passes:     {t_bare:8.2f}s  {n_images / t_bare:8.1f} images/s")
    print(f"overhead: {100 * (t_ev / t_bare - 1):+.1f}% (target < 25%)")
    if args.full:
        with tempfile.TemporaryDirectory() as tmp:
            sync(device)
            start = time.perf_counter()
            m = run_evaluation(editor, attacker, image_set, tmp, attributes, args.per_attribute, 0,
                               args.batch_size, progress=False)
            total = time.perf_counter() - start
        print(f"run_evaluation incl. figures and report: {total:.2f}s "
              f"(figures {m['seconds']['figures']:.2f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
