"""The exception types the CLI turns into a one-line message and a non-zero exit.

Exit statuses: 0 done; 2 ``InfoscrubError`` (the input, a file or a setting is wrong, and
the message says which); 3 ``NoFaceFound`` (``scrub`` found no face in a photo and wrote
nothing for it); 1 an internal error (a bug: one line, and the traceback with
``INFOSCRUB_DEBUG=1``); 130 interrupted.
"""


class InfoscrubError(Exception):
    """An expected failure caused by the user's input (bad file, unknown name, ...).

    The message must be a single line that says what is wrong and, where possible, what to
    do instead.
    """

    exit_code = 2


class NoFaceFound(InfoscrubError):
    """A photo had no face, so nothing was written for it: a script can tell this from
    success (exit 0) and from a broken input (exit 2)."""

    exit_code = 3
