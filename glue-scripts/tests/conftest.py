"""Fixtures: one local SparkSession and one in-process AWS emulator for the whole session;
a fresh emulator state, bookmark folder and uniquely named world per test. A test that uses
the Spark session is marked `spark`, one that uses the emulator `emulator`."""

from __future__ import annotations

import os

import pytest
from localaws import Emulator, World, job_argv


@pytest.fixture(scope="session")
def spark():
    from pyspark.sql import SparkSession

    # The stand-in sets the local Spark submit arguments (the Iceberg jars and SQL extensions, as
    # Glue's --datalake-formats iceberg) when imported: before the JVM starts.
    import awsglue  # noqa: F401

    session = (
        SparkSession.builder.master("local[2]")
        .appName("glue-scripts-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "1g")
        .config("spark.sql.sources.parallelPartitionDiscovery.threshold", "100000")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def emulator():
    server = Emulator()
    yield server
    server.stop()


@pytest.fixture
def bookmarks(tmp_path, monkeypatch):
    """Bookmark state of this test in its own folder."""
    folder = tmp_path / "bookmarks"
    monkeypatch.setenv("AWSGLUE_LOCAL_BOOKMARKS", str(folder))
    monkeypatch.delenv("AWSGLUE_LOCAL_BOOKMARK_OPTION", raising=False)
    monkeypatch.setenv("AWSGLUE_LOCAL_TMPDIR", str(tmp_path / "staging"))
    return folder


@pytest.fixture
def world(emulator, bookmarks, spark) -> World:
    emulator.reset()
    return World()


@pytest.fixture
def run_job(spark, world):
    """Runs the job script's main() in process (shared SparkSession); returns (report, glue_context)."""
    import curate
    from awsglue.context import GlueContext

    def run(config: dict, **kwargs):
        glue_context = GlueContext(spark.sparkContext)
        report = curate.main(job_argv(config, **kwargs), glue_context=glue_context)
        return report, glue_context

    return run


def pytest_configure(config):
    os.environ.setdefault("PYSPARK_PYTHON", os.sys.executable)


#: Session fixtures that start something slow. A test that uses one, directly or through world or
#: run_job, gets the marker of the same name; the npm test tiers select on these markers
#: (README, "Testing"), so a test's tier follows from what it starts, not from a hand-set mark.
STARTING_FIXTURES = ("spark", "emulator")


def pytest_collection_modifyitems(config, items):
    for item in items:
        for fixture in STARTING_FIXTURES:
            if fixture in item.fixturenames:
                item.add_marker(fixture)
