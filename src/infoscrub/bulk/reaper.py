"""Ray's processes go when the bulk driver goes, however it goes.

A local Ray started by ``run_bulk`` stops with ``ray.shutdown()``; but when the driver is
killed (``kill -9``, an out-of-memory kill), Ray's dashboard and runtime-env agents outlive
it, re-parented to init. The reaper is a small process started beside the driver: it keeps
a list of the driver's descendants (refreshed every ``POLL_SECONDS``) and holds the read end
of a pipe whose write end only the driver has. When the driver ends normally it writes one
byte first and nothing is killed; when the pipe closes without it (the driver died), every
process on the list that is still the same process (same start time) is killed. Processes
that were the driver's children before Ray started are never on the list.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from dataclasses import dataclass

POLL_SECONDS = 1.0
NORMAL_END = b"x"


def parent_and_start(pid: int) -> tuple[int, int] | None:
    """(parent pid, start time in clock ticks) of a process, None when it is gone. With the
    pid, the start time names one process even after the pid is reused."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()  # fields after the command name
        return int(fields[1]), int(fields[19])  # fields 4 and 22 of proc(5)
    except (OSError, IndexError, ValueError):
        return None


def start_time(pid: int) -> int | None:
    found = parent_and_start(pid)
    return None if found is None else found[1]


def descendants(root: int) -> dict[int, int]:
    """{pid: start time} of every living descendant of ``root``."""
    children: dict[int, list[int]] = {}
    started: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (found := parent_and_start(int(entry))) is not None:
            children.setdefault(found[0], []).append(int(entry))
            started[int(entry)] = found[1]
    result: dict[int, int] = {}
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        if pid not in result:
            result[pid] = started[pid]
            todo.extend(children.get(pid, []))
    return result


def reap(driver: int, pipe: int, before: set[int], poll: float = POLL_SECONDS) -> list[int]:
    """Watch ``driver`` until ``pipe`` closes; returns the pids killed (none after a normal
    end). ``before``: the driver's descendants before the reaper started, never killed."""
    seen: dict[int, int] = {}
    ended_normally = False
    while True:
        ready, _, _ = select.select([pipe], [], [], poll)
        if ready:
            data = os.read(pipe, 1)
            if data == NORMAL_END:
                ended_normally = True
                continue
            if not data:
                break
        now = descendants(driver)
        seen.update({pid: started for pid, started in now.items() if pid not in before and pid != os.getpid()})
    if ended_normally:
        return []
    killed = []
    for pid, started in seen.items():
        if start_time(pid) == started:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except ProcessLookupError:
                pass
    return killed


@dataclass
class Reaper:
    """The driver's side: the write end of the pipe and the reaper process."""

    process: subprocess.Popen
    pipe: int

    @classmethod
    def start(cls) -> "Reaper":
        read, write = os.pipe()
        os.set_inheritable(read, True)
        before = ",".join(str(pid) for pid in descendants(os.getpid()))
        # run as a plain script: it needs the standard library only, and starts at once
        process = subprocess.Popen([sys.executable, "-I", os.path.abspath(__file__), str(os.getpid()), str(read),
                                    before],
                                   pass_fds=(read,), start_new_session=True,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(read)
        return cls(process, write)

    def stop(self) -> None:
        """The driver ends normally: nothing is killed."""
        try:
            os.write(self.pipe, NORMAL_END)
        finally:
            os.close(self.pipe)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


if __name__ == "__main__":
    reap(int(sys.argv[1]), int(sys.argv[2]), {int(pid) for pid in sys.argv[3].split(",") if pid})
