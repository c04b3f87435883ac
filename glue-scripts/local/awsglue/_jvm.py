"""The local JVM's side of a run: the Iceberg runtime is there, and the AWS SDK in it signs with
the run's credentials (local only; Glue gives each run its own JVM with the job role's)."""

from __future__ import annotations

import os

from pyspark import SparkContext

from awsglue import IcebergJarsMissingError, iceberg_jar_dir, iceberg_jars

ICEBERG_CATALOG_CLASS = "org.apache.iceberg.spark.SparkCatalog"

#: Java system properties of the AWS SDK for Java v2 (``SystemPropertyCredentialsProvider`` and
#: the region chain) and the environment variables they take their values from.
SDK_PROPERTIES = (
    ("aws.accessKeyId", ("AWS_ACCESS_KEY_ID",)),
    ("aws.secretAccessKey", ("AWS_SECRET_ACCESS_KEY",)),
    ("aws.sessionToken", ("AWS_SESSION_TOKEN",)),
    ("aws.region", ("AWS_REGION", "AWS_DEFAULT_REGION")),
)


def require_iceberg(sc: SparkContext) -> None:
    """Raises ``IcebergJarsMissingError`` unless the Iceberg Spark runtime is on the JVM's classpath."""
    jvm = sc._jvm
    try:
        loader = jvm.java.lang.Thread.currentThread().getContextClassLoader()
        jvm.java.lang.Class.forName(ICEBERG_CATALOG_CLASS, False, loader)
    except Exception as error:  # py4j wraps the ClassNotFoundException
        try:
            iceberg_jars()
        except IcebergJarsMissingError:
            raise
        raise IcebergJarsMissingError(
            f"the Spark JVM has no Iceberg runtime ({ICEBERG_CATALOG_CLASS} not found), although the "
            f"jars are in {iceberg_jar_dir()}: the SparkContext was started before `import awsglue` "
            "or with a PYSPARK_SUBMIT_ARGS of its own; start it after importing awsglue, or add "
            "--jars with the Iceberg jars (run `npm run setup` if they are missing)"
        ) from error


def use_environment_credentials(sc: SparkContext) -> None:
    """Copies the AWS credentials and region of ``os.environ`` into the JVM's system properties.

    The AWS SDK for Java v2 (Iceberg's GlueCatalog and S3FileIO) resolves credentials from Java
    system properties before the environment, and reads them again on every request. The JVM's
    own environment is fixed when it starts: the local job server's JVM serves many runs, each
    as its own job role (the local runtime sets ``AWS_ACCESS_KEY_ID`` etc. per run in
    ``os.environ``). Setting the properties here, at each GlueContext, makes each run's Iceberg
    calls carry that run's credentials; a variable that is absent clears its property.
    """
    system = sc._jvm.java.lang.System
    for prop, variables in SDK_PROPERTIES:
        value = next((os.environ[v] for v in variables if os.environ.get(v)), None)
        if value is None:
            system.clearProperty(prop)
        else:
            system.setProperty(prop, value)
