"""``run_bulk``: a collection through a pool of Ray actors, on one machine or a cluster."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from infoscrub.consistent_album import album_report
from infoscrub.bulk.actor import ScrubActor
from infoscrub.bulk.album_plan import (
    AlbumPlan,
    FaceReader,
    MixSummer,
    add_mixing,
    judged_from_rows,
    plan_from_faces,
)
from infoscrub.bulk.guard import DstLock, check_outputs
from infoscrub.bulk.reaper import Reaper
from infoscrub.bulk.records import STATE, settings_key
from infoscrub.bulk.report import Progress, ReportWriter, drop_unfinished_reports, reported_runs
from infoscrub.bulk.sources import list_sources
from infoscrub.editing import require_mixer
from infoscrub.errors import InfoscrubError
from infoscrub.faces.identity import check_threshold
from infoscrub.photo_io import FORMAT_BY_SUFFIX
from infoscrub.photo_job import ScrubOptions
from infoscrub.storage.atomic import atomic_write
from infoscrub.video.container import is_video

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
    album: bool = False  # the collection is one album: each person one edit (bulk.album_plan)
    album_threshold: float = 0.6  # face-recognition distance below which two faces are one person
    max_retries: int = 3  # an actor that dies is restarted and its photos retried, this often
    force: bool = False  # replace files in DST that bulk did not write (never a source photo)
    photo_seconds: float | None = 300.0  # one photo's time limit (None: none)
    actor_env: dict[str, str] = field(default_factory=dict)  # environment of the actors' processes

    def check(self) -> None:
        if self.actors < 1 or self.batch_size < 1 or self.cpus_per_actor <= 0 or self.gpus_per_actor < 0:
            raise InfoscrubError("actors and batch size must be at least 1, CPUs per actor above 0, "
                                 "GPUs per actor 0 or more")
        if self.photo_seconds is not None and not self.photo_seconds > 0:
            raise InfoscrubError("the per-photo time limit must be above 0 seconds")
        if self.album and (self.options.request.target is not None or self.options.aligned or self.options.faces):
            raise InfoscrubError("an album gives every person one edit: --target and --aligned do not apply")
        if self.album:
            check_threshold(self.album_threshold, "the album threshold")


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
        raise InfoscrubError(f"{src} holds no photos or videos ({', '.join(sorted(FORMAT_BY_SUFFIX))}, .mp4, ...)")
    if settings.album and len(split_clips(sources)[1]):
        raise InfoscrubError(f"{src} holds videos: --album reads people from photos only (a clip gives its own "
                             "people one edit across its frames); scrub the videos in a run of their own")
    from infoscrub.scrubber import Scrubber

    # refuse bad weights (and a missing identity extra) before Ray starts
    checked = Scrubber.load(settings.checkpoint, attacker=settings.attacker,
                            identity=settings.identity or settings.album)
    key = settings_key(settings.options, [settings.checkpoint, settings.attacker], identity=settings.identity)
    dst.mkdir(parents=True, exist_ok=True)
    with DstLock(dst):
        check_outputs(sources, dst, force=settings.force)
        return scrub_collection(ray, sources, dst, settings, key, checked, progress)


def scrub_collection(ray, sources, dst: Path, settings: BulkSettings, key: str, checked, progress: bool
                     ) -> dict[str, Any]:
    """The run itself, with DST locked and its outputs checked (``run_bulk``)."""
    run = time.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}"
    reports = dst / STATE / "report"
    drop_unfinished_reports(reports)
    reported = reported_runs(reports)
    started = not ray.is_initialized()
    # a local Ray of our own: its processes go with this driver, even if it is killed
    reaper = Reaper.start() if started and not settings.address else None
    if started:
        local = {} if settings.address else {"num_cpus": max(1, int(settings.actors * settings.cpus_per_actor))}
        ray.init(address=settings.address, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.WARNING, **local)
    threads = max(1, int(settings.cpus_per_actor))  # Ray sets OMP_NUM_THREADS to match
    weights = {"checkpoint": settings.checkpoint, "attacker": settings.attacker, "device": settings.device,
               "identity": settings.identity}
    report = ReportWriter(reports / f"run={run}")
    shown = Progress(len(sources), enabled=progress)
    album_plan = None
    rows: list[dict[str, Any]] = []  # an album's report rows, for its people's summary
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # ours says photos/s and ETA in photos
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        start = time.perf_counter()
        photos, clips = split_clips(sources)
        rows_per_block = -(-len(photos) // min(MAX_BLOCKS, -(-len(photos) // settings.batch_size))) if len(photos) else 1
        blocks = [photos.slice(i, rows_per_block) for i in range(0, len(photos), rows_per_block)]
        if settings.album:
            album_plan = plan_album(ray, blocks, settings, weights, threads, checked.editor, progress)
            key = hashlib.sha256(f"{key}:{album_plan.key()}".encode()).hexdigest()[:16]
        args = (settings.options, weights, threads, str(dst), key, run, album_plan, reported, settings.photo_seconds)
        # the photos in batches, then each clip a task of its own (a long clip holds up no photo)
        passes = [(blocks, settings), ([clips.slice(i, 1) for i in range(len(clips))], replace(settings, batch_size=1))]
        for pass_blocks, pass_settings in passes:
            if not pass_blocks:
                continue
            for batch in map_actors(ray, pass_blocks, ScrubActor, args, pass_settings):
                shown.advance(report.add(batch))
                if album_plan is not None:
                    rows.extend(batch.select(["relative", "face", "belief_before", "belief_after"]).to_pylist())
        seconds = time.perf_counter() - start
        report.close()
    except BaseException:
        report.abandon()
        raise
    finally:
        shown.end()
        if started:
            ray.shutdown()
        if reaper is not None:
            reaper.stop()
    counts = dict(sorted(report.photos.items()))
    processed = sum(counts.values()) - counts.get("done_before", 0)
    summary = {"photos": len(sources), "counts": counts, "processed": processed, "seconds": round(seconds, 2),
               "photos_per_s": round(processed / seconds, 2) if seconds else None,
               "report": str(report.folder), "settings": key, "faces": report.faces,
               "first_errors": [{"photo": photo, "error": error} for photo, error in report.first_errors]}
    if album_plan is not None:
        summary["album"] = write_album_report(album_plan, rows, settings, dst / STATE / "album" / f"run={run}.json")
    return summary


def split_clips(sources):
    """(the photos, the clips) of a sources table."""
    import pyarrow as pa
    import pyarrow.compute as pc

    clip = pa.array([is_video(s) for s in sources.column("source").to_pylist()], pa.bool_())
    return sources.filter(pc.invert(clip)), sources.filter(clip)


def map_actors(ray, blocks: list, actor: type, args: tuple, settings: BulkSettings):
    """The blocks through a pool of ``actor``s; yields their result batches (pyarrow)."""
    with warnings.catch_warnings():
        # Ray 2.60 marks max_restarts/max_task_retries here deprecated (removal in 2.64, which
        # the extra excludes); without them a photo that kills its actor is retried forever
        warnings.simplefilter("ignore", DeprecationWarning)
        results = ray.data.from_arrow(blocks).map_batches(
            actor, fn_constructor_args=args,
            batch_size=settings.batch_size, compute=ray.data.ActorPoolStrategy(size=settings.actors),
            num_cpus=settings.cpus_per_actor, num_gpus=settings.gpus_per_actor or None,
            # a runtime_env costs a dedicated worker process: only when asked for
            **({"runtime_env": {"env_vars": settings.actor_env}} if settings.actor_env else {}),
            max_restarts=settings.max_retries, max_task_retries=settings.max_retries)
    yield from results.iter_batches(batch_size=None, batch_format="pyarrow")


def plan_album(ray, blocks: list, settings: BulkSettings, weights: dict[str, Any], threads: int, editor,
               progress: bool) -> AlbumPlan:
    """Passes 1-3 of ``bulk.album_plan``: read every face, group the people, their edits."""
    import pyarrow as pa

    options, request = settings.options, settings.options.request
    if request.mode == "obfuscate":  # before any pass, not inside an actor of the third
        require_mixer(editor)
    if progress:
        print("album: reading every face of the collection", file=sys.stderr)
    faces = pa.concat_tables(list(map_actors(ray, blocks, FaceReader, (weights, threads, options.max_pixels),
                                             settings)), promote_options="default")
    plan = plan_from_faces(faces, list(request.attributes), request.mode, settings.album_threshold, editor)
    if request.mode == "obfuscate" and plan.plan.people:
        if progress:
            print(f"album: the mixing maps of {len(plan.plan.people)} people", file=sys.stderr)
        add_mixing(plan, map_actors(ray, blocks, MixSummer, (weights, threads, options.max_pixels, plan.plan,
                                                            plan.faces), settings))
    return plan


def write_album_report(plan: AlbumPlan, rows: list[dict[str, Any]], settings: BulkSettings, path: Path
                       ) -> dict[str, Any]:
    """The people of the album (``consistent_album.album_report``) as JSON at ``path`` (beside the Parquet
    report's folder, not in it: readers take that folder as one dataset); returns the number
    of people and faces and the file."""
    people = album_report(plan.album, plan.plan, plan.editor_attributes, settings.options.request.strength,
                          set(plan.album.ids()), judged_from_rows(plan, rows))
    people["unread"] = plan.errors
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(people, indent=2) + "\n"))
    return {"people": len(people["people"]), "faces": people["faces"], "report": str(path)}
