"""The local AWS API emulator: moto's server application on 127.0.0.1, tied to the CLI's life.

Started by ``local/emulator.ts`` instead of ``moto_server`` for two reasons:

- it dies with the process that started it, even on ``kill -9`` of that process
  (``lifeline.tie_to_parent``; stdin end of file included);
- it has one local-only route that moto lacks. Restoring the state folder re-uploads every
  object, and S3 gives an uploaded object a new LastModified (and a single-part ETag). Glue job
  bookmarks identify S3 input by modification time, so a restored object must keep its
  identity: ``POST /_pipeline_local/s3/object-metadata`` with
  ``{"objects": [{"bucket", "key", "lastModified", "etag", "versionId"?}]}`` sets them back on the
  current version of each object (the version id too, so that a restored landing object is the
  same version the saved manifests and quarantine reasons name). No AWS client ever calls that path.

It binds a free port itself (no race between choosing a port and binding it) and prints one
JSON line on stdout, ``{"port": N}``, once it accepts connections.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from datetime import UTC, datetime

import lifeline

LOCAL_ROUTE = "/_pipeline_local/"


def _parse_time(text: str) -> datetime:
    # moto keeps naive UTC datetimes.
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def set_object_metadata(objects: list[dict]) -> dict:
    """Sets LastModified, ETag and version id of each current object version; lists the ones not found."""
    from moto.s3.models import s3_backends

    updated = 0
    missing: list[str] = []
    for item in objects:
        bucket_name, key_name = item["bucket"], item["key"]
        owner = s3_backends.bucket_accounts.get(bucket_name)
        key = None
        if owner is not None:
            partition, account = owner
            bucket = s3_backends[account][partition].buckets.get(bucket_name)
            key = bucket.keys.get(key_name) if bucket is not None else None
        if key is None:
            missing.append(f"{bucket_name}/{key_name}")
            continue
        if item.get("lastModified"):
            key.last_modified = _parse_time(item["lastModified"])
        if item.get("etag"):
            key._etag = item["etag"].strip('"')
        if item.get("versionId"):
            # moto finds a version by comparing each stored key's version_id (get_object).
            key._version_id = item["versionId"]
        updated += 1
    return {"updated": updated, "missing": missing}


def _local_route(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == LOCAL_ROUTE + "s3/export" and environ.get("REQUEST_METHOD") == "POST":
        import moto_speedups

        length = int(environ.get("CONTENT_LENGTH") or 0)
        try:
            request = json.loads(environ["wsgi.input"].read(length) or b"{}")
            objects = moto_speedups.export_objects(
                request["buckets"], request["root"], request.get("unchanged")
            )
            body, status = {"objects": objects}, "200 OK"
        except (ValueError, KeyError, TypeError, OSError) as error:
            body, status = {"error": f"{type(error).__name__}: {error}"}, "400 Bad Request"
    elif path == LOCAL_ROUTE + "s3/object-metadata" and environ.get("REQUEST_METHOD") == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        try:
            request = json.loads(environ["wsgi.input"].read(length) or b"{}")
            body, status = set_object_metadata(request.get("objects", [])), "200 OK"
        except (ValueError, KeyError, TypeError) as error:
            body, status = {"error": f"{type(error).__name__}: {error}"}, "400 Bad Request"
    else:
        body, status = {"error": f"no local route {path}"}, "404 Not Found"
    payload = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
    return [payload]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    lifeline.tie_to_parent(watch_stdin=True)
    # Constant-time SQS retention checks and clock reads (same answers as moto's own).
    import moto_speedups

    moto_speedups.apply()

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    # One line per request on stderr costs time and says nothing the CLI shows.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto_app = DomainDispatcherApplication(create_backend_app)

    def app(environ, start_response):
        if environ.get("PATH_INFO", "").startswith(LOCAL_ROUTE):
            return _local_route(environ, start_response)
        return moto_app(environ, start_response)

    server = make_server(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)
    os.environ["MOTO_PORT"] = str(server.server_port)
    sys.stdout.write(json.dumps({"port": server.server_port}) + "\n")
    sys.stdout.flush()
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
