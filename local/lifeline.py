"""Ties a child process of the local runtime to the life of the CLI that started it.

A ``kill -9`` of the CLI runs none of its clean-up, so each child must notice on its own that
its parent is gone. ``tie_to_parent()`` (imported by the runtime's own Python programs):

- on Linux, asks the kernel for SIGKILL when the parent dies (``prctl(PR_SET_PDEATHSIG)``), then
  checks that the parent did not die before the request took effect;
- everywhere, watches the parent pid from a daemon thread (an orphan is re-parented, so its
  ``getppid()`` changes) and, when asked, exits when its stdin reaches end of file (the parent's
  end of the pipe closes when the parent dies, however it dies).

Run as a program, ``python lifeline.py PROGRAM [ARG...]`` sets the Linux death signal and then
replaces itself with PROGRAM (the request survives ``exec``), for children that are not ours to
edit or that read their stdin themselves (the Spark job server).

The parent pid is ``PIPELINE_PARENT_PID`` when set (the CLI sets it), else ``getppid()``.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

ENV_PARENT = "PIPELINE_PARENT_PID"
_PR_SET_PDEATHSIG = 1
_POLL_SECONDS = 0.5


def _expected_parent() -> int:
    value = os.environ.get(ENV_PARENT, "")
    return int(value) if value.isdigit() else os.getppid()


def set_death_signal(parent: int) -> None:
    """Linux: SIGKILL this process when its parent dies; exits now if the parent is gone already."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"prctl(PR_SET_PDEATHSIG) failed: {os.strerror(err)}")
    # The parent may have died between fork and prctl: then nobody will send the signal.
    if os.getppid() != parent:
        os._exit(1)


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(_POLL_SECONDS)
        if os.getppid() != parent:
            os._exit(1)


def _watch_stdin() -> None:
    try:
        while sys.stdin.buffer.read(4096):
            pass
    except (OSError, ValueError):
        pass
    os._exit(0)


def tie_to_parent(watch_stdin: bool = False) -> None:
    """Makes this process exit when the process that started it exits (see the module docs)."""
    parent = _expected_parent()
    set_death_signal(parent)
    threading.Thread(target=_watch_parent, args=(parent,), name="lifeline-parent", daemon=True).start()
    if watch_stdin:
        threading.Thread(target=_watch_stdin, name="lifeline-stdin", daemon=True).start()


def main(argv: list[str]) -> int:
    if not argv:
        sys.stderr.write("usage: lifeline.py PROGRAM [ARG...]\n")
        return 2
    set_death_signal(_expected_parent())
    os.execv(argv[0], argv)
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
