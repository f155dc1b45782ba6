"""statefulkit.testing itself: each matcher fails when it should, with the message it promises;
the mocks answer like the kubernetes provider; a run is never silent."""

from __future__ import annotations

import re
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest

from statefulkit import RedisEnsemble, StatefulWorkload, ZooKeeperEnsemble
from statefulkit.testing import (
    UNKNOWN,
    Capture,
    ExpectedFailureError,
    Match,
    MatchError,
    MockRunner,
    ProgramLoggedError,
    Secret,
    UnresolvedOutputError,
    assert_match,
    mismatches,
    run,
)


def message(actual: Any, pattern: Any) -> str:
    with pytest.raises(MatchError) as raised:
        assert_match(actual, pattern)
    return str(raised.value)


# --------------------------------------------------------------------------- matchers


def test_object_like_is_partial_at_every_depth_but_values_must_be_equal() -> None:
    actual = {"spec": {"replicas": 3, "serviceName": "zk-headless"}, "kind": "StatefulSet"}
    assert_match(actual, Match.object_like({"spec": {"replicas": 3}}))
    assert message(actual, Match.object_like({"spec": {"replicas": 5}})) == (
        "value does not match:\n  at spec.replicas: expected 5, got 3"
    )
    assert "at spec.volumes: expected [], got absent" in message(actual, {"spec": {"volumes": []}})
    assert "at spec: expected an object, got 1" in message({"spec": 1}, {"spec": {"a": 1}})
    with pytest.raises(TypeError, match=r"Match.object_like takes a dict pattern, got list \[1\]"):
        Match.object_like([1])  # type: ignore[arg-type]


def test_lists_match_element_by_element_and_booleans_are_not_numbers() -> None:
    assert "at ports: expected an array of 1, got 2: [1, 2]" in message({"ports": [1, 2]}, {"ports": [1]})
    assert "at ports[1].port: expected 3, got 2" in message(
        {"ports": [{"port": 1}, {"port": 2}]}, {"ports": [{}, {"port": 3}]}
    )
    assert "at x: expected 1, got True" in message({"x": True}, {"x": 1})


def test_exact_refuses_extra_keys() -> None:
    assert_match({"a": {"b": 1}}, Match.exact({"a": {"b": 1}}))
    assert "at a.c: unexpected key (value 2)" in message({"a": {"b": 1, "c": 2}}, Match.exact({"a": {"b": 1}}))


def test_any_value_and_absent() -> None:
    assert_match({"a": 0}, {"a": Match.any_value(), "b": Match.absent()})
    assert "at a: expected any value, got absent" in message({}, {"a": Match.any_value()})
    assert "at a: expected any value, got None" in message({"a": None}, {"a": Match.any_value()})
    assert "at b: expected absent, got 'x'" in message({"b": "x"}, {"b": Match.absent()})


def test_array_with_finds_items_in_order() -> None:
    env = [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}, {"name": "C"}]
    assert_match(env, Match.array_with([{"name": "A"}, {"name": "C"}]))
    text = message(env, Match.array_with([{"name": "C"}, {"name": "A"}]))
    assert "at (root): no element matches array_with item [1] {'name': 'A'} in" in text
    assert "expected an array containing [1], got 'x'" in message("x", Match.array_with([1]))
    with pytest.raises(TypeError, match=r"Match\.array_with takes a list of patterns, got str 'ab'"):
        Match.array_with("ab")


def test_string_like_regex() -> None:
    assert_match({"name": "shop-3b2dba50"}, {"name": Match.string_like_regex(r"^shop-[0-9a-f]{8}$")})
    assert "at name: expected a string matching /^shop-$/, got 'shop-1'" in message(
        {"name": "shop-1"}, {"name": Match.string_like_regex("^shop-$")}
    )
    assert "at n: expected a string matching /x/, got 3" in message({"n": 3}, {"n": Match.string_like_regex("x")})
    with pytest.raises(ValueError, match=r"Match.string_like_regex: '\(' is not a regular expression"):
        Match.string_like_regex("(")


def test_not() -> None:
    assert_match({"type": "ClusterIP"}, {"type": Match.not_("None")})
    assert "at type: expected anything but 'None', got 'None'" in message(
        {"type": "None"}, {"type": Match.not_("None")}
    )


def test_captures_keep_what_they_matched() -> None:
    name, ports = Capture(), Capture(Match.string_like_regex("^p"))
    assert_match({"metadata": {"name": "zk"}, "ports": ["peer", "x", "probe"]}, {"metadata": {"name": name}})
    assert name.value == "zk"
    assert_match(["peer", "x", "probe"], Match.array_with([ports, ports]))
    assert ports.values == ["peer", "probe"]
    with pytest.raises(LookupError, match="the capture matched nothing"):
        _ = Capture().value


def test_a_capture_keeps_only_what_a_whole_match_accepted() -> None:
    """A candidate that matched the capture but not the rest of the pattern leaves nothing behind."""
    env = [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}, {"name": "C", "value": "2"}]
    name = Capture()
    assert_match(env, Match.array_with([{"name": name, "value": "2"}]))  # A was tried first
    assert name.values == ["B"]

    failed = Capture()  # the first item is found, the second is not: the array_with fails
    assert "no element matches array_with item [1]" in message(env, Match.array_with([{"name": failed}, {"name": "Z"}]))
    with pytest.raises(MatchError):
        assert_match({"a": 1, "b": 2}, {"a": failed, "b": 3})
    with pytest.raises(MatchError):
        assert_match({"a": 1, "b": 2}, Match.exact({"a": failed}))
    with pytest.raises(MatchError):
        assert_match({"a": {"k": 1}}, Match.object_like({"a": {"k": Capture(failed)}, "b": 1}))
    assert mismatches({"a": 1}, {"a": failed, "b": 1})
    assert failed.values == []
    with pytest.raises(LookupError, match="the capture matched nothing"):
        _ = failed.value

    negated = Capture()  # the inside of a not_ never keeps anything, whether the not_ holds or not
    assert_match({"a": {"k": 1, "j": 2}}, {"a": Match.not_({"k": negated, "j": 3})})
    assert "expected anything but" in message({"a": {"k": 1}}, {"a": Match.not_({"k": negated})})
    assert negated.values == []

    outer, inner = Capture({"name": Capture()}), Capture(Match.string_like_regex("^C"))
    assert mismatches(env, Match.array_with([outer, {"name": inner}])) == []  # called on its own, it keeps
    assert outer.values == [env[0]] and inner.values == ["C"]


def zookeeper_and_redis() -> None:
    ZooKeeperEnsemble("zk", {"replicas": 3})
    RedisEnsemble("cache", {"password": pulumi.Output.secret("pw")})


def test_has_resource_captures_from_the_resource_it_returns(pulumi_mocks: MockRunner) -> None:
    d = pulumi_mocks.run(zookeeper_and_redis)
    name = Capture()
    sts = d.has_resource(
        kind="StatefulSet", inputs={"metadata": {"name": name}, "spec": {"serviceName": "cache-headless"}}
    )
    assert sts.k8s_name == "cache"
    assert name.values == ["cache"]  # not also 'zk', which matched the capture and not serviceName

    with pytest.raises(MatchError, match="no StatefulSet matches the pattern"):
        d.has_resource(kind="StatefulSet", inputs={"metadata": {"name": name}, "spec": {"serviceName": "nope"}})
    with pytest.raises(MatchError, match="2 of StatefulSet match, expected one"):
        d.has_resource(kind="StatefulSet", inputs={"metadata": {"name": name}})
    with pytest.raises(MatchError, match=r"no StatefulSet named 'redis'; nearest: 'cache' \(matches\)"):
        d.has_resource(kind="StatefulSet", k8s_name="redis", inputs={"metadata": {"name": name}})
    assert name.values == ["cache"]  # none of the failed queries kept a value


def test_secrets_match_only_as_secrets_and_never_print() -> None:
    assert_match({"data": Secret({"p": "pw"})}, {"data": Secret({"p": "pw"})})
    assert "at data: expected a plain value, got a secret" in message({"data": Secret("pw")}, {"data": "pw"})
    assert "at data: expected a secret, got a plain str 'pw'" in message({"data": "pw"}, {"data": Secret("pw")})
    assert "hunter2" not in repr({"data": Secret("hunter2")})


# --------------------------------------------------------------------------- queries


def workloads() -> dict[str, Any]:
    claims = [{"name": "data", "size": "1Gi", "mount_path": "/data"}]
    zookeeper = StatefulWorkload(
        "zookeeper", {"image": "zk:3.9", "replicas": 3, "ports": {"c": 2181}, "volume_claims": claims}
    )
    StatefulWorkload("redis", {"image": "redis:7", "replicas": 1, "ports": {"c": 6379}, "volume_claims": claims})
    return {"dns": zookeeper.pod_dns_names}


def test_queries_and_the_nearest_candidate_in_failures(pulumi_mocks: MockRunner) -> None:
    d = pulumi_mocks.run(workloads)
    sts = d.has_resource(kind="StatefulSet", k8s_name="zookeeper", inputs={"spec": {"replicas": 3}})
    component = d.one("statefulkit:index:StatefulWorkload", name="zookeeper")
    assert sts in d.children(component)
    assert {r.kind for r in d.children(component)} >= {"StatefulSet", "Service", "NetworkPolicy"}
    d.resource_count_is(2, kind="StatefulSet")
    with pytest.raises(MatchError) as raised:
        d.has_resource(kind="StatefulSet", k8s_name="zk", inputs={"spec": {"replicas": 5}})
    assert str(raised.value) == (
        "no StatefulSet named 'zk'; nearest: 'zookeeper' (differs at spec.replicas: expected 5, got 3), "
        "'redis' (differs at spec.replicas: expected 5, got 1)"
    )
    with pytest.raises(
        MatchError,
        match=re.escape(
            "no StatefulSet named 'zookeeper' matches the pattern; nearest: "
            "StatefulSet 'zookeeper' differs at spec.replicas: expected 5, got 3"
        ),
    ):
        d.has_resource(kind="StatefulSet", k8s_name="zookeeper", inputs={"spec": {"replicas": 5}})
    with pytest.raises(
        MatchError,
        match=r"no Deployment; none of that kind was registered \(there are: NetworkPolicy, PodDisruptionBudget,",
    ):
        d.one(kind="Deployment")
    with pytest.raises(MatchError, match=r"no StatefulSet named 'zk'; nearest: 'zookeeper', 'redis'"):
        d.one(kind="StatefulSet", k8s_name="zk")
    with pytest.raises(MatchError, match=r"expected one StatefulSet, found 2"):
        d.one(kind="StatefulSet")
    with pytest.raises(MatchError, match=r"expected 3 StatefulSet, found 2: \['redis', 'zookeeper'\]"):
        d.resource_count_is(3, kind="StatefulSet")


# --------------------------------------------------------------------------- the mocks


def namespaced_program() -> dict[str, Any]:
    ns = k8s.core.v1.Namespace("shop")
    secret = k8s.core.v1.Secret("pw", metadata={"namespace": ns.metadata.name}, string_data={"p": "hunter2"})
    svc = k8s.core.v1.Service("api", spec={"ports": [{"port": 80}]})
    pulumi.export("secret_data", secret.string_data)
    return {"ns": ns.metadata, "svc": svc.metadata, "secret_name": secret.metadata.name, "data": secret.string_data}


def test_the_mocks_name_default_and_keep_secrets_like_the_provider(pulumi_mocks: MockRunner) -> None:
    d = pulumi_mocks.run(namespaced_program)
    ns, secret, svc = d.outputs["ns"], d.outputs["secret_name"], d.outputs["svc"]
    assert re.fullmatch(r"shop-[0-9a-f]{8}", ns["name"]) and "namespace" not in ns  # cluster-scoped
    assert re.fullmatch(r"pw-[0-9a-f]{8}", secret)
    assert svc["namespace"] == "default"
    assert d.one(kind="Secret").inputs["metadata"]["namespace"] == ns["name"]  # apply chains saw the real name
    assert d.outputs["data"] == Secret({"p": "hunter2"})  # Secret data stays secret, even from a plain input
    assert d.stack_outputs == {"secret_data": Secret({"p": "hunter2"})}
    assert "hunter2" not in repr(d.stack_outputs) and "hunter2" in repr(d.stack_outputs_wire)
    status = d.one(kind="Namespace").outputs.get("status")
    uid = ns.get("uid")
    if pulumi_mocks.preview:  # only the created object knows these
        assert status is None and uid is None
    else:
        assert status == {"phase": "Active"} and re.fullmatch(r"[0-9a-f-]{36}", uid)
        assert re.fullmatch(r"10\.96\.\d+\.\d+", d.one(kind="Service").outputs["spec"]["clusterIP"])


def test_an_output_stays_secret_when_its_input_was(pulumi_mocks: MockRunner) -> None:
    """As the engine does: a ConfigMap given a secret value answers it as a secret (the provider
    itself would return it in the clear), and its other outputs stay plain."""

    def program() -> dict[str, Any]:
        config = k8s.core.v1.ConfigMap("c", data={"token": pulumi.Output.secret("t0ken")}, immutable=True)
        return {"data": config.data, "immutable": config.immutable}

    d = pulumi_mocks.run(program)
    assert d.outputs == {"data": Secret({"token": "t0ken"}), "immutable": True}
    assert d.one(kind="ConfigMap").outputs["data"] == Secret({"token": "t0ken"})


def test_a_statefulset_status_is_known_only_after_the_update(pulumi_mocks: MockRunner) -> None:
    def program() -> dict[str, Any]:
        sts = k8s.apps.v1.StatefulSet("db", spec={"replicas": 2, "service_name": "db", "selector": {}, "template": {}})
        return {"ready": sts.status.apply(lambda s: s and s.ready_replicas)}

    if pulumi_mocks.preview:
        with pytest.raises(UnresolvedOutputError, match=r"outputs \['ready'\] never resolved in preview"):
            pulumi_mocks.run(program)
    else:
        assert pulumi_mocks.run(program).outputs == {"ready": 2}


# --------------------------------------------------------------------------- never silent


def test_an_apply_that_never_runs_fails_the_run() -> None:
    ran: list[str] = []

    def phase(status: Any) -> str:
        ran.append("x")
        return str(status.phase)

    def program() -> dict[str, Any]:
        ns = k8s.core.v1.Namespace("shop")
        return {"phase": ns.status.apply(phase)}

    with pytest.raises(UnresolvedOutputError, match=r"outputs \['phase'\] never resolved in preview"):
        run(program, preview=True)
    assert ran == []  # the assertion the callback held would never have run
    assert run(program, preview=False).outputs == {"phase": "Active"}
    assert ran == ["x"]


def test_an_error_inside_an_apply_fails_the_run(pulumi_mocks: MockRunner) -> None:
    def program() -> None:
        ns = k8s.core.v1.Namespace("shop")
        ns.metadata.apply(lambda m: m["name"] / 2)  # nobody reads this Output

    with pytest.raises(TypeError, match="unsupported operand"):
        pulumi_mocks.run(program)
    assert isinstance(pulumi_mocks.run_failing(program).error, TypeError)


def test_a_logged_error_fails_the_run() -> None:
    with pytest.raises(ProgramLoggedError, match=r"the program logged 1 error\(s\): \['boom'\]"):
        run(lambda: pulumi.log.error("boom"), preview=False)


def test_run_failing_refuses_a_program_that_completes() -> None:
    with pytest.raises(ExpectedFailureError, match="expected to raise, but it completed"):
        MockRunner("update").run_failing(lambda: None)


def test_bad_input_to_the_harness_is_named() -> None:
    with pytest.raises(TypeError, match=r"run: the program returned Output; return a dict of the Outputs"):
        run(lambda: pulumi.Output.from_input(1), preview=False)
    with pytest.raises(TypeError, match=r"run: program must be a callable .* got 'x'"):
        run("x", preview=False)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"MockRunner: mode must be one of \['preview', 'update'\], got 'up'"):
        MockRunner("up")  # type: ignore[arg-type]


def test_config_and_secret_config_reach_the_program() -> None:
    def program() -> dict[str, Any]:
        config = pulumi.Config()
        return {"replicas": config.require_int("replicas"), "password": config.require_secret("password")}

    d = run(program, preview=False, config={"replicas": 3}, secrets={"password": "pw"})
    assert d.outputs == {"replicas": 3, "password": Secret("pw")}


def test_unknown_inputs_show_as_unknown_in_preview() -> None:
    def program() -> None:
        ns = k8s.core.v1.Namespace("shop")
        k8s.core.v1.ConfigMap("c", data={"phase": ns.status.apply(lambda s: str(s and s.phase))})

    assert run(program, preview=True).one(kind="ConfigMap").inputs["data"] == {"phase": UNKNOWN}
