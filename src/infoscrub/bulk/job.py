"""``run_bulk``: a collection through a pool of Ray actors, on one machine or a cluster."""

from __future__ import annotations

import logging
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infoscrub.bulk.actor import ScrubActor
from infoscrub.bulk.records import STATE, settings_key
from infoscrub.bulk.report import Progress, ReportWriter
from infoscrub.bulk.sources import list_sources
from infoscrub.errors import InfoscrubError
from infoscrub.photo_io import FORMAT_BY_SUFFIX
from infoscrub.photo_job import ScrubOptions

# a block is one actor task: small enough to spread the work, few enough that creating them
# stays cheap (each is one object-store put: 10,000 took 19 s, 1,000 about 2 s)
MAX_BLOCKS = 1_000


@dataclass
class BulkSettings:
    options: ScrubOptions
    checkpoint: str | None = None  # None: the bundled weights
    attacker: str | None = None
    device: str = "cpu"
    actors: int = 2  # concurrent scrubbers (each loads the models once)
    cpus_per_actor: float = 1.0
    gpus_per_actor: float = 0.0
    batch_size: int = 4  # photos per actor call
    address: str | None = None  # an existing Ray cluster; None: a local one
    identity: bool = False  # check that edited faces are still the same person (identity extra)
    max_retries: int = 3  # an actor that dies is restarted and its photos retried, this often
    actor_env: dict[str, str] = field(default_factory=dict)  # environment of the actors' processes

    def check(self) -> None:
        if self.actors < 1 or self.batch_size < 1 or self.cpus_per_actor <= 0 or self.gpus_per_actor < 0:
            raise InfoscrubError("actors and batch size must be at least 1, CPUs per actor above 0, "
                                 "GPUs per actor 0 or more")


def run_bulk(src: str | Path, dst: str | Path, settings: BulkSettings, progress: bool = True) -> dict[str, Any]:
    """Scrub every photo of ``src`` into ``dst`` (see ``infoscrub.bulk``); returns the summary:
    photos, counts per status, photos processed (not done before), seconds, their photos/s,
    the report folder, the settings key, the number of face rows and the first errors."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise InfoscrubError("infoscrub bulk needs Ray Data: pip install 'infoscrub[bulk]'") from None
    settings.check()
    src, dst = Path(src), Path(dst)
    if not src.exists():
        raise InfoscrubError(f"{src} does not exist")
    if src.is_dir() and dst.resolve().is_relative_to(src.resolve()):
        raise InfoscrubError(f"{dst} lies inside {src}: the outputs would be read as inputs")
    sources = list_sources(src)
    if not len(sources):
        raise InfoscrubError(f"{src} holds no photos ({', '.join(sorted(FORMAT_BY_SUFFIX))})")
    from infoscrub.scrubber import Scrubber

    # refuse bad weights (and a missing identity extra) before Ray starts
    Scrubber.load(settings.checkpoint, attacker=settings.attacker, identity=settings.identity)
    key = settings_key(settings.options, [settings.checkpoint, settings.attacker], identity=settings.identity)
    run = time.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}"
    dst.mkdir(parents=True, exist_ok=True)
    (dst / STATE).mkdir(exist_ok=True)
    started = not ray.is_initialized()
    if started:
        local = {} if settings.address else {"num_cpus": max(1, int(settings.actors * settings.cpus_per_actor))}
        ray.init(address=settings.address, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.WARNING, **local)
    threads = max(1, int(settings.cpus_per_actor))  # Ray sets OMP_NUM_THREADS to match
    weights = {"checkpoint": settings.checkpoint, "attacker": settings.attacker, "device": settings.device,
               "identity": settings.identity}
    report = ReportWriter(dst / STATE / "report" / f"run={run}")
    shown = Progress(len(sources), enabled=progress)
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # ours says photos/s and ETA in photos
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        start = time.perf_counter()
        rows_per_block = -(-len(sources) // min(MAX_BLOCKS, -(-len(sources) // settings.batch_size)))
        blocks = [sources.slice(i, rows_per_block) for i in range(0, len(sources), rows_per_block)]
        with warnings.catch_warnings():
            # Ray 2.60 marks max_restarts/max_task_retries here deprecated (removal in 2.64, which
            # the extra excludes); without them a photo that kills its actor is retried forever
            warnings.simplefilter("ignore", DeprecationWarning)
            results = ray.data.from_arrow(blocks).map_batches(
                ScrubActor, fn_constructor_args=(settings.options, weights, threads, str(dst), key, run),
                batch_size=settings.batch_size, compute=ray.data.ActorPoolStrategy(size=settings.actors),
                num_cpus=settings.cpus_per_actor, num_gpus=settings.gpus_per_actor or None,
                # a runtime_env costs a dedicated worker process: only when asked for
                **({"runtime_env": {"env_vars": settings.actor_env}} if settings.actor_env else {}),
                max_restarts=settings.max_retries, max_task_retries=settings.max_retries)
        for batch in results.iter_batches(batch_size=None, batch_format="pyarrow"):
            shown.advance(report.add(batch))
        seconds = time.perf_counter() - start
        report.close()
    except BaseException:
        report.abandon()
        raise
    finally:
        shown.end()
        if started:
            ray.shutdown()
    counts = dict(sorted(report.photos.items()))
    processed = sum(counts.values()) - counts.get("done_before", 0)
    return {"photos": len(sources), "counts": counts, "processed": processed, "seconds": round(seconds, 2),
            "photos_per_s": round(processed / seconds, 2) if seconds else None,
            "report": str(report.folder), "settings": key, "faces": report.faces,
            "first_errors": [{"photo": photo, "error": error} for photo, error in report.first_errors]}
