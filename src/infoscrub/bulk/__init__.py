"""Scrub a whole collection with Ray Data: every core and machine it is given, resumable,
exactly once in effect, with a report one can query.

SRC is a folder tree of photos or a Parquet/CSV manifest with a ``path`` column
(``sources``); DST mirrors SRC's tree. Photos go through a pool of Ray actors that each
load the models once (``actor``: ``map_batches`` with a callable class) and run the same
code as ``infoscrub scrub`` (``photo_job.scrub_file``). Outputs are written atomically
under their final names; a done record per photo (``records``) keeps the source's content
hash and the settings, so a rerun skips what is finished and redoes only missing or failed
photos. A photo that fails (bad bytes, no face, too large) becomes a report row with its
error, never a failed job. The driver streams the actors' rows into a Parquet report
partitioned by status and shows progress (``report``); ``job.run_bulk`` ties it together.

Runs on one machine with no setup (a local Ray); on a cluster with ``address``.
"""

from infoscrub.bulk.job import BulkSettings, run_bulk
from infoscrub.bulk.records import STATE
from infoscrub.bulk.sources import list_sources

__all__ = ["STATE", "BulkSettings", "list_sources", "run_bulk"]
