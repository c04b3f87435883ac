"""What the local awsglue stand-in asks of S3 and as whom: the local runtime authorizes these
requests as the job's role (local/iam), so they must be the ones Glue makes."""

from __future__ import annotations

from awsglue import _aws
from awsglue.context import GlueContext


def _record_s3_calls(glue_context: GlueContext) -> list[tuple[str, dict]]:
    calls: list[tuple[str, dict]] = []

    def before_parameter_build(params, model, **_kwargs):
        calls.append((model.name, dict(params)))

    glue_context._client("s3").meta.events.register("before-parameter-build.s3", before_parameter_build)
    return calls


def test_a_from_options_read_of_one_object_lists_its_key_as_prefix_then_gets_it(world, spark):
    path = world.put_dimension("accounts", "account,org\n007,Data\n")
    bucket, key = _aws.split_s3_url(path)
    glue_context = GlueContext(spark.sparkContext)
    calls = _record_s3_calls(glue_context)

    frame = glue_context.create_dynamic_frame.from_options(
        connection_type="s3",
        connection_options={"paths": [path]},
        format="csv",
        format_options={"withHeader": True},
    )

    assert frame.toDF().count() == 1
    # Glue's S3 reader lists the path before reading (s3:ListBucket with s3:prefix = the key,
    # issue 10 finding 1), then reads each object found (s3:GetObject).
    name, params = calls[0]
    assert (name, params["Bucket"], params["Prefix"]) == ("ListObjectsV2", bucket, key)
    reads = [(name, params["Key"]) for name, params in calls[1:]]
    assert reads and all(name in ("HeadObject", "GetObject") for name, _ in reads)
    assert {k for _, k in reads} == {key}
    assert ("GetObject", key) in reads


def test_clients_sign_with_the_credentials_in_the_environment_when_made(monkeypatch):
    # The warm Spark driver runs each job as its own role: a later run's credentials must win.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "LOCALJobRoleOne")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "one")
    first = _aws.client("s3")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "LOCALJobRoleTwo")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "two")
    second = _aws.client("s3")

    assert first._request_signer._credentials.access_key == "LOCALJobRoleOne"
    assert second._request_signer._credentials.access_key == "LOCALJobRoleTwo"
