"""Holds the lock of a local state folder for as long as the CLI command that started it runs.

usage: state_lock.py LOCKFILE --mode exclusive|shared --wait SECONDS --owner JSON

The lock is an OS lock (``flock``) on LOCKFILE, held by this process. The kernel releases it when
the process ends, however it ends, and this process ends with the CLI (``lifeline``: the
death signal, the parent watch, end of file on stdin). A crashed command therefore never leaves
a stale lock behind: the pid written in LOCKFILE is information for the waiting message only.

Protocol, one JSON object per line on stdout:
  {"waiting": OWNER}   once, when another command holds the lock (OWNER as that command wrote
                       it: pid, command, since; {} when unknown)
  {"acquired": true}   the lock is held until this process ends
  {"timeout": OWNER}   not acquired within --wait seconds; exit code 3
  {"gone": true}       the folder was removed while waiting (``reset``); exit code 4
An exclusive holder writes its OWNER JSON into LOCKFILE; shared holders (queries) do not.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import sys
import time

import lifeline

POLL_SECONDS = 0.2


def say(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def read_owner(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            owner = json.loads(handle.read() or "{}")
    except (OSError, ValueError):
        return {}
    if not isinstance(owner, dict):
        return {}
    pid = owner.get("pid")
    if isinstance(pid, int):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return {}  # written by a command that has ended: not who holds the lock now
        except PermissionError:
            pass
    return owner


def acquire(path: str, shared: bool, wait_seconds: float) -> int | None:
    """The open descriptor holding the lock; None when the folder is gone; exits 3 on timeout."""
    deadline = time.monotonic() + wait_seconds
    announced = False
    operation = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, operation)
        except BlockingIOError:
            os.close(fd)
            if not announced:
                say({"waiting": read_owner(path)})
                announced = True
            if time.monotonic() >= deadline:
                say({"timeout": read_owner(path)})
                sys.exit(3)
            time.sleep(POLL_SECONDS)
            continue
        # `reset` removes the lock file while holding it: a lock on a removed file locks nothing.
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)
        if not os.path.isdir(os.path.dirname(path) or "."):
            return None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="holds a state folder lock")
    parser.add_argument("lockfile")
    parser.add_argument("--mode", choices=("exclusive", "shared"), default="exclusive")
    parser.add_argument("--wait", type=float, default=0.0)
    parser.add_argument("--owner", default="{}")
    args = parser.parse_args(argv)
    lifeline.tie_to_parent()

    fd = acquire(args.lockfile, args.mode == "shared", args.wait)
    if fd is None:
        say({"gone": True})
        return 4
    if args.mode == "exclusive":
        body = args.owner.encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, body, 0)
    say({"acquired": True})
    # Held until the CLI closes our stdin (release) or dies (lifeline).
    try:
        while sys.stdin.buffer.read(4096):
            pass
    except (OSError, ValueError, KeyboardInterrupt):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
