"""``getResolvedOptions`` as Glue's: required ``--NAME value`` options, reserved names refused."""

from __future__ import annotations

import argparse
import secrets

BOOKMARK_OPTION = "--job-bookmark-option"
BOOKMARK_CHOICES = ("job-bookmark-enable", "job-bookmark-pause", "job-bookmark-disable")
RESERVED_IDS = ("--JOB_ID", "--JOB_RUN_ID", "--SECURITY_CONFIGURATION")


class ArgumentError(ValueError):
    """A required job argument is missing or a reserved one was requested."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print and exit; Glue raises
        raise ArgumentError(message)


def new_job_run_id() -> str:
    """A run id shaped like Glue's (``jr_`` and 64 hex digits)."""
    return "jr_" + secrets.token_hex(32)


def getResolvedOptions(args: list[str], options: list[str]) -> dict[str, str | None]:
    """Resolves ``--NAME value`` pairs from ``args`` (``sys.argv``: the script name comes first).

    Every name in ``options`` is required. As in Glue, ``job-bookmark-option``, ``JOB_ID``,
    ``JOB_RUN_ID`` and ``SECURITY_CONFIGURATION`` are reserved (always parsed, never
    requested) and unknown arguments are ignored. Differences: when ``--JOB_RUN_ID`` is
    absent the stand-in makes one (the Glue service always passes it), and an absent
    ``--job-bookmark-option`` stays ``None`` (``Job.init`` then applies the local default).
    """
    for reserved in (BOOKMARK_OPTION, *RESERVED_IDS):
        if reserved[2:] in options:
            raise ArgumentError(f"Using reserved arguments {reserved[2:]}")
    parser = _Parser(add_help=False, allow_abbrev=False)
    parser.add_argument(BOOKMARK_OPTION, choices=BOOKMARK_CHOICES, required=False)
    for reserved in RESERVED_IDS:
        parser.add_argument(reserved, required=False)
    parser.add_argument("--TempDir", required=False)
    for option in options:
        if option == "TempDir":
            continue
        parser.add_argument("--" + option, required=True)
    parsed, _extra = parser.parse_known_args(list(args[1:]))
    resolved = vars(parsed)
    if not resolved.get("JOB_RUN_ID"):
        resolved["JOB_RUN_ID"] = new_job_run_id()
    return resolved
