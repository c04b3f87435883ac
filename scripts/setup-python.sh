#!/usr/bin/env bash
# Creates the project's Python virtualenv (.venv) from requirements.txt and downloads the Iceberg jars
# local Spark needs (the versions Glue 5.1 ships) into .venv/iceberg-jars.
# Idempotent: re-running upgrades nothing that is already pinned and installed, and downloads no jar
# that is already there and matches Maven Central's published SHA-1.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 10) else 1)'; then
  echo "setup: Python >= 3.10 is required (Glue 5.1 runs 3.11); found $("$PYTHON" --version 2>&1)" >&2
  exit 1
fi
if ! command -v java >/dev/null 2>&1; then
  echo "setup: Java 17 is required by local Spark (pyspark); install a JDK 17 first" >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $("$PYTHON" --version 2>&1)"
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -r requirements.txt

# Iceberg for local Spark: the same versions as Glue 5.1 (Spark 3.5.6, Iceberg 1.10.0). Not pip packages:
# Maven Central artifacts, each checked against the .sha1 Maven publishes beside it. The local awsglue
# stand-in (glue-scripts/local/awsglue) puts every jar of this folder on the Spark classpath.
ICEBERG_VERSION="1.10.0"
JAR_DIR="${PIPELINE_ICEBERG_JARS:-.venv/iceberg-jars}"
MAVEN="${MAVEN_REPOSITORY_URL:-https://repo1.maven.org/maven2}"
.venv/bin/python - "$JAR_DIR" "$MAVEN" \
  "org.apache.iceberg:iceberg-spark-runtime-3.5_2.12:${ICEBERG_VERSION}" \
  "org.apache.iceberg:iceberg-aws-bundle:${ICEBERG_VERSION}" <<'PY'
import hashlib
import os
import sys
import urllib.error
import urllib.request

jar_dir, maven, *coordinates = sys.argv[1:]
os.makedirs(jar_dir, exist_ok=True)


def sha1_of(path):
    digest = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.read()
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        sys.exit(
            f"setup: cannot download {url}: {error}\n"
            "setup: the Iceberg jars come from Maven Central; connect to the network (or set "
            "MAVEN_REPOSITORY_URL to a Maven Central mirror) and run `npm run setup` again"
        )


for coordinate in coordinates:
    group, artifact, version = coordinate.split(":")
    name = f"{artifact}-{version}.jar"
    url = f"{maven}/{group.replace('.', '/')}/{artifact}/{version}/{name}"
    target = os.path.join(jar_dir, name)
    checksum_file = target + ".sha1"
    if os.path.exists(target) and os.path.exists(checksum_file):
        with open(checksum_file) as f:
            if f.read().split()[0] == sha1_of(target):
                continue
    expected = fetch(url + ".sha1").decode().split()[0].strip().lower()
    print(f"setup: downloading {name}")
    data = fetch(url)
    actual = hashlib.sha1(data).hexdigest()
    if actual != expected:
        sys.exit(f"setup: {url} has SHA-1 {actual}, Maven Central publishes {expected}: not installed")
    partial = target + ".part"
    with open(partial, "wb") as f:
        f.write(data)
    os.replace(partial, target)
    with open(checksum_file, "w") as f:
        f.write(expected + "\n")
PY

echo "setup: .venv ready ($(.venv/bin/python -c 'import pyspark, moto, pyiceberg; print("pyspark", pyspark.__version__, "moto", moto.__version__, "pyiceberg", pyiceberg.__version__)'); iceberg ${ICEBERG_VERSION} jars in ${JAR_DIR})"
