"""Entry of one local Glue job run in the warm job server (local/job-server.ts).

On AWS each job run starts in a fresh driver, so its boto3 clients sign with that run's role.
The local job server keeps one Python process for every run of a command, and boto3's default
session (``boto3.client(...)``) resolves credentials once per process: without this, a run of a
second job (e.g. cloud_billing after the account_hierarchy seed) would sign its boto3 calls as
the first job's role and be denied by local IAM. This forgets the default session, then runs the
job script as ``__main__`` with its own arguments.

Usage (as the job server's script): ``glue_job_entry.py <job script> [job arguments...]``.
"""

import runpy
import sys

import boto3

if __name__ == "__main__":
    boto3.DEFAULT_SESSION = None
    script = sys.argv[1]
    sys.argv = [script, *sys.argv[2:]]
    runpy.run_path(script, run_name="__main__")
