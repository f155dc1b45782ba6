"""Unit tests of this program, written as a statefulkit user writes them: `statefulkit.testing` and
its `pulumi_mocks` fixture (each test runs as a preview and as an update). Run: `pytest`."""

from __future__ import annotations

from pathlib import Path

from statefulkit.testing import Capture, Deployment, Match, MockRunner, Secret, assert_match, program_at

PASSWORD = "an-example-password"  # noqa: S105 - test-only


def deploy(pulumi_mocks: MockRunner) -> Deployment:
    return pulumi_mocks.run(
        program_at(Path(__file__).parent), project="statefulkit-composition", secrets={"redis_password": PASSWORD}
    )


def test_everything_lives_in_the_namespace_pulumi_named(pulumi_mocks: MockRunner) -> None:
    d = deploy(pulumi_mocks)
    namespace = d.stack_outputs["namespace"]
    assert_match(namespace, Match.string_like_regex(r"^shop-[0-9a-f]{8}$"), "the namespace")
    objects = [r for r in d.resources if r.kind not in (None, "Namespace")]
    assert len(objects) == 16
    for r in objects:
        assert r.namespace == namespace, r.urn


def test_the_client_gets_the_connection_details(pulumi_mocks: MockRunner) -> None:
    d = deploy(pulumi_mocks)
    connect = Capture(Match.string_like_regex(r"^zk-0\.zk-headless\.shop-[0-9a-f]{8}\.svc\.cluster\.local:2181,"))
    secret_name = Capture()
    container = {
        "name": "client",
        "env": Match.array_with(
            [
                {"name": "ZK_CONNECT", "value": connect},
                {"name": "REDIS_PASSWORD", "valueFrom": {"secretKeyRef": {"name": secret_name, "key": "password"}}},
            ]
        ),
    }
    d.has_resource(kind="Deployment", inputs={"spec": {"template": {"spec": {"containers": [container]}}}})
    assert connect.value == d.stack_outputs["zookeeper_connect_string"]
    assert secret_name.value == d.stack_outputs["redis_password_secret"]


def test_the_password_stays_secret(pulumi_mocks: MockRunner) -> None:
    d = deploy(pulumi_mocks)
    secret = d.has_resource(kind="Secret", inputs={"stringData": Secret({"password": PASSWORD})})
    assert secret.outputs["stringData"] == Secret({"password": PASSWORD})
    assert all(PASSWORD not in repr(r.inputs) for r in d.resources)
    assert PASSWORD not in repr(d.stack_outputs)
