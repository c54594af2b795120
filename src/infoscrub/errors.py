"""The one exception type the CLI turns into a one-line message and a non-zero exit."""


class InfoscrubError(Exception):
    """An expected failure caused by the user's input (bad file, unknown name, ...).

    The message must be a single line that says what is wrong and, where possible, what to
    do instead. Anything else raised inside infoscrub is a bug and keeps its traceback.
    """

    exit_code = 2
