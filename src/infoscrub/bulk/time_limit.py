"""A time limit for one photo in a bulk actor: a photo that hangs a decoder or the model
becomes that photo's error, and the actor goes on with the next."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

from infoscrub.errors import InfoscrubError


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise ``InfoscrubError`` in the block once ``seconds`` have passed (a real-time timer:
    SIGALRM, so only in the main thread, where Ray runs an actor's calls; elsewhere, and with
    ``None``, the block runs unlimited)."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(_signum, _frame):
        raise InfoscrubError(f"took more than {seconds:g} s (the per-photo time limit)")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
