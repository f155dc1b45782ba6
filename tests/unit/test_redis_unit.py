"""RedisEnsemble under Pulumi mocks (preview and update): every rendered field, every rule, no plain password."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pulumi.runtime import rpc
from pydantic import ValidationError

from statefulkit.args.common import memory_bytes
from statefulkit.args.redis import (
    DEFAULT_RENAMED_COMMANDS,
    MAXMEMORY_POLICIES,
    REDIS_IMAGE,
    RedisArgs,
    SentinelSettings,
)
from statefulkit.redis import RedisEnsemble
from statefulkit.render.redis import RedisRender, render_config_files, render_sentinel_conf
from statefulkit.render.workload import render_workload
from statefulkit.testing import SECRET_SIG, Deployment, run
from tests.support.tokens import CERTIFICATE, CM, NETPOL, PDB, REDIS, SECRET, STS, SVC, WORKLOAD

PASSWORD = "Pl41n-T3xt-N3v3r!"  # noqa: S105 - test-only password
SIG_KEY = rpc._special_sig_key


def args(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"password": pulumi.Output.secret(PASSWORD)}
    base.update(overrides)
    return base


def deploy(preview: bool, name: str = "cache", **overrides: Any) -> Deployment:
    def program() -> dict[str, Any]:
        redis = RedisEnsemble(name, args(**overrides))
        outputs: dict[str, Any] = {
            "master_name": redis.master_name,
            "sentinel_addresses": redis.sentinel_addresses,
            "pod_dns_names": redis.pod_dns_names,
            "headless_service_name": redis.headless_service_name,
            "sentinel_service_name": redis.sentinel_service_name,
            "workload_dns": redis.workload.pod_dns_names,
        }
        if redis.password_secret_name is not None:
            outputs["password_secret_name"] = redis.password_secret_name
        return outputs

    return run(program, preview=preview)


def sts(d: Deployment) -> dict[str, Any]:
    spec: dict[str, Any] = d.one(STS).inputs["spec"]
    return spec


def containers(d: Deployment) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in sts(d)["template"]["spec"]["containers"]}


def files(d: Deployment) -> dict[str, str]:
    data: dict[str, str] = d.one(CM).inputs["data"]
    return data


def service(d: Deployment, name: str) -> dict[str, Any]:
    found = [r for r in d.of_type(SVC) if r.k8s_name == name]
    assert len(found) == 1, [r.k8s_name for r in d.of_type(SVC)]
    return found[0].inputs


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


# --------------------------------------------------------------------------- structure


def test_component_and_children(preview: bool) -> None:
    d = deploy(preview)
    component = d.one(REDIS)
    workload = d.one(WORKLOAD)
    secret = d.one(SECRET)
    assert component.name == "cache"
    assert workload.parent == component.urn and secret.parent == component.urn
    for typ in (STS, CM, PDB, NETPOL):
        assert d.one(typ).parent == workload.urn
    assert {r.parent for r in d.of_type(SVC)} == {workload.urn}
    assert sorted(r.type for r in d.resources) == sorted([REDIS, WORKLOAD, SECRET, STS, SVC, SVC, PDB, CM, NETPOL])
    # The StatefulSet waits for the password Secret (its env references the Secret's Output name).
    assert secret.urn in d.one(STS).dependencies


def test_outputs(preview: bool) -> None:
    d = deploy(preview, namespace="data")
    fqdns = [f"cache-{i}.cache-headless.data.svc.cluster.local" for i in range(3)]
    assert d.outputs == {
        "master_name": "mymaster",
        "sentinel_addresses": [f"{f}:26379" for f in fqdns],
        "pod_dns_names": fqdns,
        "headless_service_name": "cache-headless",
        "sentinel_service_name": "cache",
        "password_secret_name": "cache-auth",
        "workload_dns": fqdns,
    }


def test_registers_its_outputs(preview: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, dict[str, Any]] = {}
    original = pulumi.ComponentResource.register_outputs

    def spy(self: pulumi.ComponentResource, outputs: Any) -> None:
        seen[type(self).__name__] = dict(outputs)
        original(self, outputs)

    monkeypatch.setattr(pulumi.ComponentResource, "register_outputs", spy)
    deploy(preview)
    assert set(seen["RedisEnsemble"]) == {
        "master_name",
        "sentinel_addresses",
        "pod_dns_names",
        "headless_service_name",
        "sentinel_service_name",
        "password_secret_name",
    }


def test_statefulset(preview: bool) -> None:
    d = deploy(preview)
    spec = sts(d)
    meta = d.one(STS).inputs["metadata"]
    assert meta["name"] == "cache" and meta["namespace"] == "default"
    assert spec["replicas"] == 3
    assert spec["serviceName"] == "cache-headless"
    assert spec["podManagementPolicy"] == "Parallel"
    assert spec["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "redis",
        "app.kubernetes.io/instance": "cache",
        "app.kubernetes.io/component": "server",
    }
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    (claim,) = spec["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["resources"]["requests"]["storage"] == "8Gi"
    assert "storageClassName" not in claim["spec"]
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == 999 and pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    assert pod["volumes"] == [{"name": "config", "configMap": {"name": "cache-config", "defaultMode": 0o555}}]
    assert pod["terminationGracePeriodSeconds"] == 30
    assert "statefulkit.io/config-hash" in spec["template"]["metadata"]["annotations"]


def test_containers_ports_commands_and_env(preview: bool) -> None:
    d = deploy(preview)
    by_name = containers(d)
    assert list(by_name) == ["redis", "sentinel"]
    redis, sentinel = by_name["redis"], by_name["sentinel"]
    assert redis["image"] == sentinel["image"] == REDIS_IMAGE
    assert redis["ports"] == [{"name": "redis", "containerPort": 6379, "protocol": "TCP"}]
    assert sentinel["ports"] == [{"name": "sentinel", "containerPort": 26379, "protocol": "TCP"}]
    assert redis["command"] == ["sh", "/config/redis-start.sh"]
    assert sentinel["command"] == ["sh", "/config/sentinel-start.sh"]
    for c in (redis, sentinel):
        assert env_of(c) == {
            "POD_NAME": {"fieldRef": {"fieldPath": "metadata.name"}},
            "POD_NAMESPACE": {"fieldRef": {"fieldPath": "metadata.namespace"}},
            "CONFIG_DIR": "/config",
            "REDIS_PASSWORD": {"secretKeyRef": {"name": "cache-auth", "key": "password"}},
        }
        assert c["volumeMounts"] == [
            {"name": "data", "mountPath": "/data"},
            {"name": "config", "mountPath": "/config", "readOnly": True},
        ]
        assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert redis["readinessProbe"]["exec"]["command"] == ["sh", "/config/probe.sh", "redis", "ready"]
    assert redis["livenessProbe"]["exec"]["command"] == ["sh", "/config/probe.sh", "redis", "live"]
    assert sentinel["readinessProbe"]["exec"]["command"] == ["sh", "/config/probe.sh", "sentinel", "ready"]
    assert sentinel["livenessProbe"]["exec"]["command"] == ["sh", "/config/probe.sh", "sentinel", "live"]
    assert redis["livenessProbe"]["initialDelaySeconds"] == 10 + 60  # discovery + failover-timeout (split vote)
    assert sentinel["livenessProbe"]["initialDelaySeconds"] == 10 + 10 + 30  # discovery + down-after + 30
    assert redis["readinessProbe"]["periodSeconds"] == 5


def test_the_exporter_sidecar_logs_in_like_a_client_and_never_gates_readiness(preview: bool) -> None:
    d = deploy(preview, exporter={"check_keys": ["session:*", "queue"], "include_system_metrics": True})
    by_name = containers(d)
    assert list(by_name) == ["redis", "sentinel", "metrics"]
    exporter = by_name["metrics"]
    assert exporter["image"] == "oliver006/redis_exporter:v1.67.0"
    assert "command" not in exporter  # the image's own entrypoint
    assert exporter["ports"] == [{"name": "metrics", "containerPort": 9121, "protocol": "TCP"}]
    assert env_of(exporter) == {
        "REDIS_ADDR": "redis://localhost:6379",
        "REDIS_EXPORTER_WEB_LISTEN_ADDRESS": ":9121",
        "REDIS_EXPORTER_CONFIG_COMMAND": "SK_CONFIG",  # CONFIG is renamed by default
        "REDIS_PASSWORD": {"secretKeyRef": {"name": "cache-auth", "key": "password"}},
        "REDIS_EXPORTER_INCL_SYSTEM_METRICS": "true",
        "REDIS_EXPORTER_CHECK_KEYS": "session:*,queue",
    }
    assert "readinessProbe" not in exporter and "livenessProbe" not in exporter
    assert exporter["resources"] == {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}}
    assert exporter["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    headless = next(r for r in d.of_type(SVC) if r.k8s_name == "cache-headless")
    assert {"name": "metrics", "port": 9121, "targetPort": "metrics", "protocol": "TCP"} in headless.inputs["spec"][
        "ports"
    ]
    assert "metrics" not in containers(deploy(preview))


def test_tls_from_a_secret_replaces_plaintext_everywhere(preview: bool) -> None:
    d = deploy(preview, tls={"secret_name": "cache-certs", "client_certificates": True}, exporter={})
    conf = files(d)
    for text, port in ((conf["redis.conf"], 6379), (conf["sentinel.conf"], 26379)):
        assert f"port 0\ntls-port {port}\n" in text
        for line in ("tls-cert-file /tls/tls.crt", "tls-key-file /tls/tls.key", "tls-ca-cert-file /tls/ca.crt"):
            assert line in text
        assert "tls-replication yes" in text and "tls-auth-clients yes" in text
    assert "TLS_DIR=/tls\n" in conf["common.sh"]
    assert "-----BEGIN" not in "".join(conf.values())  # no key or certificate in the ConfigMap
    pod = sts(d)["template"]["spec"]
    assert {"name": "tls", "secret": {"secretName": "cache-certs", "defaultMode": 0o440}} in pod["volumes"]
    mount = {"name": "tls", "mountPath": "/tls", "readOnly": True}
    for container in pod["containers"]:
        assert mount in container["volumeMounts"], container["name"]
    exporter = env_of(containers(d)["metrics"])
    assert exporter["REDIS_ADDR"] == "rediss://localhost:6379"
    assert exporter["REDIS_EXPORTER_TLS_CA_CERT_FILE"] == "/tls/ca.crt"
    assert not [r for r in d.resources if r.type == CERTIFICATE]  # the Secret exists: no Certificate
    plain = files(deploy(preview))
    assert "port 6379\n" in plain["redis.conf"] and "tls-" not in plain["redis.conf"] + plain["sentinel.conf"]
    assert "TLS_DIR=''\n" in plain["common.sh"]


def test_tls_from_cert_manager_creates_a_certificate_the_pods_wait_for(preview: bool) -> None:
    d = deploy(preview, namespace="shop", tls={"issuer_ref": {"name": "ca-issuer", "kind": "ClusterIssuer"}})
    (certificate,) = [r for r in d.resources if r.type == CERTIFICATE]
    assert certificate.inputs["apiVersion"] == "cert-manager.io/v1" and certificate.inputs["kind"] == "Certificate"
    assert certificate.inputs["metadata"]["name"] == "cache-tls"
    spec = certificate.inputs["spec"]
    assert spec["secretName"] == "cache-tls"
    assert spec["issuerRef"] == {"name": "ca-issuer", "kind": "ClusterIssuer", "group": "cert-manager.io"}
    assert spec["dnsNames"][:2] == ["*.cache-headless.shop.svc.cluster.local", "cache-headless.shop.svc.cluster.local"]
    assert "cache.shop.svc.cluster.local" in spec["dnsNames"] and "localhost" in spec["dnsNames"]
    assert spec["ipAddresses"] == ["127.0.0.1"] and "client auth" in spec["usages"]
    assert certificate.urn in d.one(STS).dependencies
    assert {"name": "tls", "secret": {"secretName": "cache-tls", "defaultMode": 0o440}} in sts(d)["template"]["spec"][
        "volumes"
    ]


def test_overrides_reach_the_pods(preview: bool) -> None:
    d = deploy(
        preview,
        image="redis:7.4.2",
        image_pull_policy="IfNotPresent",
        storage_size="20Gi",
        storage_class_name="fast",
        resources={"requests": {"memory": "1Gi"}, "limits": {"memory": "2Gi"}},
        sentinel_resources={"limits": {"memory": "64Mi"}},
        maxmemory="1gb",
        replicas=5,
        labels={"team": "payments"},
        tolerations=[{"key": "dedicated", "operator": "Exists"}],
        node_selector={"pool": "redis"},
        priority_class_name="high",
        termination_grace_period_seconds=60,
        run_as_user=1001,
    )
    spec = sts(d)
    by_name = containers(d)
    assert {c["image"] for c in by_name.values()} == {"redis:7.4.2"}
    assert {c["imagePullPolicy"] for c in by_name.values()} == {"IfNotPresent"}
    assert by_name["redis"]["resources"] == {"requests": {"memory": "1Gi"}, "limits": {"memory": "2Gi"}}
    assert by_name["sentinel"]["resources"] == {"limits": {"memory": "64Mi"}}
    claim = spec["volumeClaimTemplates"][0]["spec"]
    assert claim["resources"]["requests"]["storage"] == "20Gi" and claim["storageClassName"] == "fast"
    pod = spec["template"]["spec"]
    assert pod["tolerations"] == [{"key": "dedicated", "operator": "Exists"}]
    assert pod["nodeSelector"] == {"pool": "redis"} and pod["priorityClassName"] == "high"
    assert pod["terminationGracePeriodSeconds"] == 60 and pod["securityContext"]["runAsUser"] == 1001
    assert spec["replicas"] == 5
    assert d.one(STS).inputs["metadata"]["labels"]["team"] == "payments"
    assert d.one(SECRET).inputs["metadata"]["labels"]["team"] == "payments"
    assert "sentinel monitor mymaster @MASTER@ 6379 3" in files(d)["sentinel.conf"]


def test_services_and_pdb(preview: bool) -> None:
    d = deploy(preview)
    headless = service(d, "cache-headless")["spec"]
    assert headless["clusterIP"] == "None"
    assert headless["publishNotReadyAddresses"] is True
    assert [(p["name"], p["port"]) for p in headless["ports"]] == [("redis", 6379), ("sentinel", 26379)]
    sentinel = service(d, "cache")["spec"]
    assert sentinel["type"] == "ClusterIP"
    assert sentinel["ports"] == [{"name": "sentinel", "port": 26379, "targetPort": "sentinel", "protocol": "TCP"}]
    assert sentinel["selector"] == headless["selector"]
    pdb = d.one(PDB).inputs["spec"]
    assert pdb == {"selector": {"matchLabels": headless["selector"]}, "maxUnavailable": 1}


def test_single_pod_needs_explicit_intent_and_gets_no_pdb(preview: bool) -> None:
    d = deploy(preview, replicas=1, allow_small_sentinel_quorum=True)
    assert d.of_type(PDB) == []
    assert "sentinel monitor mymaster @MASTER@ 6379 1" in files(d)["sentinel.conf"]


# --------------------------------------------------------------------------- config files


def test_redis_conf(preview: bool) -> None:
    conf = files(deploy(preview))["redis.conf"].splitlines()
    for line in (
        "port 6379",
        "bind * -::*",
        "protected-mode no",
        "dir /data",
        "appendonly yes",
        "appendfsync everysec",
        "maxmemory-policy noeviction",
        "min-replicas-to-write 0",
        'rename-command FLUSHALL ""',
        'rename-command FLUSHDB ""',
        'rename-command DEBUG ""',
        'rename-command CONFIG "SK_CONFIG"',
    ):
        assert line in conf
    assert not any(line.startswith(("maxmemory ", "requirepass", "masterauth", "replicaof")) for line in conf)


def test_redis_conf_tuning(preview: bool) -> None:
    d = deploy(
        preview,
        appendonly=False,
        appendfsync="always",
        maxmemory="256mb",
        maxmemory_policy="allkeys-lru",
        renamed_commands={"FLUSHALL": "WIPE_ALL", "KEYS": ""},
        min_replicas_to_write=1,
        min_replicas_max_lag=5,
        extra_config={"hz": "20", "tcp-keepalive": "60"},
    )
    conf = files(d)["redis.conf"].splitlines()
    for line in (
        "appendonly no",
        "appendfsync always",
        f"maxmemory {256 * 1024 * 1024}",
        "maxmemory-policy allkeys-lru",
        'rename-command FLUSHALL "WIPE_ALL"',
        'rename-command KEYS ""',
        "min-replicas-to-write 1",
        "min-replicas-max-lag 5",
        "hz 20",
        "tcp-keepalive 60",
    ):
        assert line in conf
    assert not any("CONFIG" in line for line in conf)  # overriding replaces the default set
    assert "sentinel rename-command" not in files(d)["sentinel.conf"]


def test_sentinel_conf(preview: bool) -> None:
    d = deploy(
        preview,
        master_name="orders",
        sentinel={"down_after_milliseconds": 5000, "failover_timeout_milliseconds": 30000, "parallel_syncs": 2},
    )
    conf = files(d)["sentinel.conf"].splitlines()
    assert conf.index("sentinel resolve-hostnames yes") < conf.index("sentinel monitor orders @MASTER@ 6379 2")
    for line in (
        "port 26379",
        "dir /data/sentinel",
        "sentinel announce-hostnames yes",
        "sentinel announce-ip @SELF@",
        "sentinel down-after-milliseconds orders 5000",
        "sentinel failover-timeout orders 30000",
        "sentinel parallel-syncs orders 2",
        "sentinel rename-command orders CONFIG SK_CONFIG",
    ):
        assert line in conf
    # Redis refuses rename-command in Sentinel mode; Sentinel only learns the servers' names.
    assert not any(line.startswith("rename-command") for line in conf)
    assert "MASTER_NAME=orders" in files(d)["common.sh"]


def test_sentinel_defaults(preview: bool) -> None:
    conf = files(deploy(preview))["sentinel.conf"]
    assert "sentinel monitor mymaster @MASTER@ 6379 2" in conf
    assert "sentinel down-after-milliseconds mymaster 10000" in conf
    assert "sentinel failover-timeout mymaster 60000" in conf
    assert "sentinel parallel-syncs mymaster 1" in conf
    assert (
        "sentinel monitor mymaster @MASTER@ 6379 3"
        in files(deploy(preview, replicas=5, sentinel={"quorum": 3}))["sentinel.conf"]
    )


def test_start_scripts_pick_the_role_through_the_sentinels(preview: bool) -> None:
    f = files(deploy(preview))
    common, start, sentinel, probe = f["common.sh"], f["redis-start.sh"], f["sentinel-start.sh"], f["probe.sh"]
    assert set(f) == {
        "redis.conf",
        "sentinel.conf",
        "common.sh",
        "redis-start.sh",
        "sentinel-start.sh",
        "probe.sh",
        "prestop.sh",
    }
    for line in ("STS=cache", "HEADLESS=cache-headless", "CLUSTER_DOMAIN=cluster.local", "REPLICAS=3", "AUTH=1"):
        assert line in common.splitlines()
    assert 'fqdn() { echo "$STS-$1.$HEADLESS.$POD_NAMESPACE.svc.$CLUSTER_DOMAIN"; }' in common
    assert 'SENTINEL get-master-addr-by-name "$MASTER_NAME"' in common
    assert 'REDISCLI_AUTH="$REDIS_PASSWORD"' in common
    # Order of trust: the Sentinels, then the state this pod's Sentinel saved, then ordinal 0.
    ask, saved, boot = (start.index(s) for s in ("sentinel_vote all", "saved_master)", "master=$(fqdn 0)"))
    assert ask < saved < boot
    assert 'echo "replica-announce-ip $SELF"' in start
    assert 'echo "replicaof $master $REDIS_PORT"' in start
    assert 'echo "requirepass $(conf_quote "$REDIS_PASSWORD")"' in start
    assert 'echo "masterauth $(conf_quote "$REDIS_PASSWORD")"' in start
    assert 'exec redis-server "$conf"' in start
    assert "$DATA_DIR/conf" in start  # writable copy: CONFIG REWRITE after a failover must succeed
    assert "sentinel_vote peers" in sentinel
    assert 'sed -e "s/@SELF@/$SELF/g" -e "s/@MASTER@/$master/g"' in sentinel
    assert 'echo "sentinel auth-pass $MASTER_NAME $(conf_quote "$REDIS_PASSWORD")"' in sentinel
    assert 'echo "requirepass $(conf_quote "$REDIS_PASSWORD")"' in sentinel
    assert 'echo "sentinel known-replica $MASTER_NAME $host $REDIS_PORT"' in sentinel
    assert 'exec redis-server "$conf" --sentinel' in sentinel
    # Sentinel starts only after this pod's Redis (then the master) answers: no failover on restart.
    local, peers, master = (
        sentinel.index(s)
        for s in ("wait_until_up 127.0.0.1", "sentinel_vote peers", 'wait_until_up "$master" "$DOWN_AFTER_SECONDS"')
    )
    assert local < peers < master
    assert "DOWN_AFTER_SECONDS=10" in common.splitlines()
    assert "PING" in probe and "master_sync_in_progress:1" in probe
    for script in (start, sentinel, probe, common):
        assert script.startswith("#!/bin/sh\n")


def test_scripts_are_valid_posix_sh() -> None:
    spec = RedisArgs(**args())
    for name, text in render_config_files("cache", spec).items():
        if name.endswith(".sh"):
            result = subprocess.run(["sh", "-n"], input=text, capture_output=True, text=True, check=False)
            assert result.returncode == 0, f"{name}: {result.stderr}"


def test_auth_disabled_explicitly(preview: bool) -> None:
    d = deploy(preview, password=None, auth=False)
    assert d.of_type(SECRET) == []
    for c in containers(d).values():
        assert "REDIS_PASSWORD" not in env_of(c)
    assert "AUTH=0" in files(d)["common.sh"].splitlines()
    assert "password_secret_name" not in d.outputs


def test_existing_secret(preview: bool) -> None:
    def program() -> dict[str, Any]:
        ns = pulumi.Output.from_input("apps")
        secret_name = pulumi.Output.from_input("shared-redis")
        redis = RedisEnsemble(
            "cache", {"namespace": ns, "existing_secret": {"name": secret_name, "key": "redis-password"}}
        )
        assert redis.password_secret_name is not None
        return {"secret": redis.password_secret_name}

    d = run(program, preview=preview)
    assert d.of_type(SECRET) == []
    assert d.outputs == {"secret": "shared-redis"}
    for c in containers(d).values():
        assert env_of(c)["REDIS_PASSWORD"] == {"secretKeyRef": {"name": "shared-redis", "key": "redis-password"}}


def test_namespace_output_never_enters_the_configmap(preview: bool) -> None:
    def program() -> dict[str, Any]:
        ns = pulumi.Output.from_input("tenant-a")
        redis = RedisEnsemble("cache", args(namespace=ns))
        return {"addresses": redis.sentinel_addresses}

    d = run(program, preview=preview)
    assert d.outputs["addresses"][0] == "cache-0.cache-headless.tenant-a.svc.cluster.local:26379"
    assert not any("tenant-a" in text for text in files(d).values())
    assert d.one(CM).inputs["metadata"]["namespace"] == "tenant-a"
    assert d.one(SECRET).inputs["metadata"]["namespace"] == "tenant-a"


# --------------------------------------------------------------------------- the password


def _plain_occurrences(value: Any, needle: str, path: str = "") -> Iterator[str]:
    """Paths where `needle` appears outside a secret-wrapped value."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return  # a secret: encrypted in the state
        for key, item in value.items():
            if needle in str(key):
                yield f"{path}.{key} (key)"
            yield from _plain_occurrences(item, needle, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _plain_occurrences(item, needle, f"{path}[{i}]")
    elif needle in str(value):
        yield path


def test_password_is_never_plain_in_any_registered_input(preview: bool) -> None:
    d = deploy(preview)
    for r in d.resources:
        assert list(_plain_occurrences(r.wire, PASSWORD)) == [], f"{r.type} {r.name} (raw)"
        assert list(_plain_occurrences(r.inputs, PASSWORD)) == [], f"{r.type} {r.name} (inputs)"
    # It is there, once, as a secret on the Secret only.
    secret = d.one(SECRET)
    wrapped = secret.wire["stringData"]
    assert wrapped[SIG_KEY] == SECRET_SIG
    assert wrapped["value"] == {"password": PASSWORD}
    holders = [r.name for r in d.resources if PASSWORD in repr(r.wire)]
    assert holders == ["cache-auth"]
    assert not any(PASSWORD in text for text in files(d).values())


def test_secret_manifest_and_secret_outputs(preview: bool) -> None:
    d = deploy(preview)
    secret_outputs = {r.name: r.additional_secret_outputs for r in d.resources}
    secret = d.one(SECRET).inputs
    assert secret["metadata"]["name"] == "cache-auth"
    assert secret["type"] == "Opaque"
    assert "data" not in secret
    assert {"data", "stringData"} <= set(secret_outputs["cache-auth"])


def test_a_non_secret_output_is_wrapped_as_secret(preview: bool) -> None:
    def program() -> None:
        RedisEnsemble("cache", {"password": pulumi.Output.from_input(PASSWORD)})

    d = run(program, preview=preview)
    for r in d.resources:
        assert list(_plain_occurrences(r.wire, PASSWORD)) == [], r.name


# --------------------------------------------------------------------------- validation


def rejected(overrides: dict[str, Any], name: str = "cache") -> str:
    """Build the component with bad args; assert it raises before registering anything."""
    errors: list[Exception] = []

    def program() -> None:
        with pytest.raises(ValidationError) as info:
            RedisEnsemble(name, overrides)
        errors.append(info.value)

    d = run(program, preview=True)
    assert d.resources == [], [r.name for r in d.resources]
    assert len(errors) == 1
    return str(errors[0])


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"replicas": 2}, ["replicas=2", "at least 3 pods", "allow_small_sentinel_quorum=True"]),
        ({"replicas": 1}, ["replicas=1", "majority"]),
        ({"replicas": 0, "allow_small_sentinel_quorum": True}, ["replicas=0", "minimum of 1"]),
        ({"sentinel": {"quorum": 4}}, ["sentinel.quorum=4", "larger than the 3 Sentinels"]),
        ({"replicas": 5, "sentinel": {"quorum": 6}}, ["sentinel.quorum=6", "5 Sentinels"]),
        ({"sentinel": {"quorum": 0}}, ["sentinel.quorum=0", "at least 1"]),
        ({"sentinel": {"down_after_milliseconds": 50}}, ["sentinel.down_after_milliseconds=50", "minimum of 100"]),
        ({"sentinel": {"failover_timeout_milliseconds": 10}}, ["failover_timeout_milliseconds=10", "minimum"]),
        ({"sentinel": {"parallel_syncs": 0}}, ["sentinel.parallel_syncs=0", "minimum of 1"]),
        ({"maxmemory": "lots"}, ["maxmemory='lots'", "not a size", "256mb"]),
        ({"maxmemory": "1.5gb"}, ["maxmemory='1.5gb'", "not a size"]),
        ({"maxmemory": "100kb"}, ["maxmemory='100kb'", "102400 bytes", "at least 1mb"]),
        ({"maxmemory": 0}, ["maxmemory=0", "at least 1mb"]),
        (
            {"maxmemory": "2gb", "resources": {"limits": {"memory": "2Gi"}}},
            ["maxmemory='2gb'", "resources.limits.memory='2Gi'", "headroom"],
        ),
        ({"maxmemory_policy": "lru"}, ["maxmemory_policy='lru'", "allkeys-lru"]),
        ({"renamed_commands": {"CONFIG": ""}}, ["renamed_commands['CONFIG']=''", "Sentinel sends CONFIG", "rename"]),
        ({"renamed_commands": {"slaveof": ""}}, ["renamed_commands['slaveof']=''", "SLAVEOF"]),
        ({"renamed_commands": {"PING": "P"}}, ["renamed_commands['PING']='P'", "cannot be renamed"]),
        ({"renamed_commands": {"FLUSHALL": "two words"}}, ["renamed_commands['FLUSHALL']='two words'", "letters"]),
        ({"renamed_commands": {"FLUSHALL": "X", "FLUSHDB": "X"}}, ["'FLUSHALL' and 'FLUSHDB'", "'X'"]),
        ({"renamed_commands": {"keys": "", "KEYS": ""}}, ["['KEYS']", "more than once"]),
        ({"renamed_commands": {"no such!": ""}}, ["'no such!'", "not a Redis command name"]),
        ({"extra_config": {"requirepass": "x"}}, ["extra_config['requirepass']", "managed"]),
        ({"extra_config": {"Bad Key": "x"}}, ["'Bad Key'", "directive name"]),
        ({"extra_config": {"hz": "1\nrequirepass x"}}, ["extra_config['hz']", "single line"]),
        ({"min_replicas_to_write": 3}, ["min_replicas_to_write=3", "replicas=3", "refuse every write"]),
        ({"master_name": "my master"}, ["master_name='my master'", "letters, digits"]),
        ({"storage_size": "0"}, ["'0'", "positive size"]),
        ({"discovery_timeout_seconds": -1}, ["discovery_timeout_seconds=-1", "minimum of 0"]),
        ({"master_handoff_seconds": -1}, ["master_handoff_seconds=-1", "minimum of 0"]),
        (
            {"master_handoff_seconds": 26},
            ["master_handoff_seconds=26", "termination_grace_period_seconds=30", "5 s before", "killed mid-handoff"],
        ),
    ],
)
def test_bad_input_is_rejected_before_anything_is_registered(overrides: dict[str, Any], expected: list[str]) -> None:
    message = rejected(args(**overrides))
    for part in expected:
        assert part in message, f"{part!r} not in {message}"


def test_plain_str_password_is_refused_with_instructions_and_never_echoed() -> None:
    message = rejected({"password": "hunter2-plain"})
    assert "password=<plain str of 13 characters, redacted>" in message
    assert "pulumi.Output.secret(" in message
    assert 'require_secret("redisPassword")' in message
    assert "existing_secret" in message
    assert "hunter2-plain" not in message


def test_password_of_another_type_is_refused() -> None:
    assert "password of type int is not a Pulumi Output[str]" in rejected({"password": 1234})


def test_auth_needs_a_password_source() -> None:
    message = rejected({})
    assert "auth=True (the default) needs a password source" in message
    assert "auth=False" in message


def test_auth_off_with_a_password_is_contradictory() -> None:
    assert "auth=False but password is set" in rejected(args(auth=False))
    assert "auth=False but existing_secret is set" in rejected(
        {"auth": False, "existing_secret": {"name": "s", "key": "k"}}
    )


def test_two_password_sources_are_refused() -> None:
    assert "password and existing_secret are both set" in rejected(args(existing_secret={"name": "s", "key": "k"}))


def test_bad_component_name_is_refused_before_registration() -> None:
    assert "DNS-1035" in rejected(args(), name="Redis_1")


def test_unknown_field_is_refused() -> None:
    message = rejected(args(sentinels=3))
    assert "sentinels" in message and "unknown field; did you mean 'sentinel'?" in message
    assert "sentinel.quorom" in rejected(args(sentinel={"quorom": 2}))
    assert "did you mean 'quorum'?" in rejected(args(sentinel={"quorom": 2}))


@pytest.mark.parametrize(
    ("tls", "fragments"),
    [
        ({}, ["tls", "neither of secret_name and issuer_ref set"]),
        ({"secret_name": "s", "issuer_ref": {"name": "i"}}, ["tls", "both of secret_name and issuer_ref"]),
        ({"issuer_ref": {"name": "i", "kind": "Vault"}}, ["tls.issuer_ref.kind", "Issuer", "ClusterIssuer"]),
        ({"secret_name": "Bad_Name"}, ["tls.secret_name", "Bad_Name"]),
    ],
)
def test_bad_tls_settings_are_refused(tls: dict[str, Any], fragments: list[str]) -> None:
    message = rejected(args(tls=tls))
    for fragment in fragments:
        assert fragment in message, message


@pytest.mark.parametrize(
    ("exporter", "fragments"),
    [
        ({"port": 26379}, ["exporter.port", "26379", "taken by Redis or Sentinel"]),
        ({"check_keys": ["a,b"]}, ["exporter.check_keys", "a,b", "no ','"]),
        ({"image": "bad image"}, ["exporter.image", "pattern"]),
    ],
)
def test_bad_exporter_settings_are_refused(exporter: dict[str, Any], fragments: list[str]) -> None:
    message = rejected(args(exporter=exporter))
    for fragment in fragments:
        assert fragment in message, message


def test_errors_never_show_the_raw_input() -> None:
    with pytest.raises(ValidationError) as info:
        RedisArgs.model_validate({"password": "hunter2-plain", "replicas": 2})
    assert "hunter2-plain" not in str(info.value)
    assert "input_value" not in str(info.value)


# --------------------------------------------------------------------------- properties


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    replicas=st.integers(min_value=-1, max_value=9),
    quorum=st.none() | st.integers(min_value=-1, max_value=11),
    allow_small=st.booleans(),
    maxmemory=st.none() | st.integers(min_value=0, max_value=2**34),
    policy=st.sampled_from([*MAXMEMORY_POLICIES, "lru", "allkeys"]),
    exporter_port=st.none() | st.sampled_from([0, 6379, 9121, 26379, 9400, 65536]),
)
def test_redis_args_accepts_exactly_the_valid_combinations(  # noqa: PLR0917 - one per hypothesis strategy
    replicas: int, quorum: int | None, allow_small: bool, maxmemory: int | None, policy: str, exporter_port: int | None
) -> None:
    valid = (
        replicas >= 1
        and (replicas >= 3 or allow_small)
        and (quorum is None or 1 <= quorum <= replicas)
        and (maxmemory is None or maxmemory >= 2**20)
        and policy in MAXMEMORY_POLICIES
        and (exporter_port is None or exporter_port in (9121, 9400))
    )
    raw = args(
        replicas=replicas,
        sentinel={"quorum": quorum},
        allow_small_sentinel_quorum=allow_small,
        maxmemory=maxmemory,
        maxmemory_policy=policy,
        exporter=None if exporter_port is None else {"port": exporter_port},
    )
    if not valid:
        with pytest.raises(ValidationError):
            RedisArgs.model_validate(raw)
        return
    spec = RedisArgs.model_validate(raw)
    effective = spec.effective_quorum()
    assert 1 <= effective <= replicas
    assert effective == (quorum if quorum is not None else replicas // 2 + 1)
    assert effective > replicas / 2 or quorum is not None
    assert f"@MASTER@ 6379 {effective}\n" in render_sentinel_conf(spec)
    manifests = render_workload("cache", RedisRender("cache", spec).workload_args())
    assert manifests.stateful_set["spec"]["replicas"] == replicas
    assert (manifests.pdb is None) == (replicas < 2)
    pod = manifests.stateful_set["spec"]["template"]["spec"]
    ports = [p["containerPort"] for c in pod["containers"] if c["name"] == "metrics" for p in c["ports"]]
    assert ports == ([] if exporter_port is None else [exporter_port])
    conf = render_config_files("cache", spec)["redis.conf"]
    assert (f"maxmemory {maxmemory}\n" in conf) == (maxmemory is not None)
    assert f"maxmemory-policy {policy}\n" in conf


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(["b", "k", "kb", "m", "mb", "g", "gb", "Ki", "Mi", "Gi", "KB", "MB", "GB"]), st.integers(1, 4096)
)
def test_memory_sizes_follow_redis_units(unit: str, number: int) -> None:
    decimal = {"b": 1, "k": 1000, "m": 10**6, "g": 10**9}
    factor = decimal.get(unit.lower()) or 1024 ** ("kmg".index(unit[0].lower()) + 1)
    assert memory_bytes(f"{number}{unit}") == number * factor


@settings(max_examples=60, deadline=None)
@given(st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=40))
def test_conf_quote_round_trips_any_password(password: str) -> None:
    """The start scripts write the password as "\\xHH..." in redis.conf: it must decode to the same bytes."""
    common = render_config_files("cache", RedisArgs(**args()))["common.sh"]
    helper = common[common.index("conf_quote() {") :]
    helper = helper[: helper.index("\n}\n") + 3]
    result = subprocess.run(
        ["sh", "-c", helper + 'conf_quote "$PW"'],
        env={"PW": password, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        check=True,
    )
    quoted = result.stdout.decode()
    assert re.fullmatch(r'"(\\x[0-9a-f]{2})*"', quoted), quoted
    decoded = bytes(int(h, 16) for h in re.findall(r"\\x([0-9a-f]{2})", quoted))
    assert decoded == password.encode()


def test_defaults_documented() -> None:
    spec = RedisArgs(**args())
    assert spec.renamed_commands == DEFAULT_RENAMED_COMMANDS
    assert spec.sentinel == SentinelSettings()
    assert spec.effective_quorum() == 2
    assert (spec.replicas, spec.image, spec.master_name, spec.auth) == (3, REDIS_IMAGE, "mymaster", True)
    for name, field in RedisArgs.model_fields.items():
        assert field.description, f"{name} lacks a description with its default"


def test_rollout_retention_and_budget_pass_through(preview: bool) -> None:
    """Canary rollouts and PVC retention are set per ensemble, and bad values are refused early."""

    def program() -> None:
        RedisEnsemble(
            "cache",
            RedisArgs(
                password=pulumi.Output.secret("pw-for-test"),
                update_strategy={"type": "RollingUpdate", "partition": 2},
                pvc_retention={"when_scaled": "Delete"},
                disruption_budget={"min_available": 2},
            ),
        )

    d = run(program, preview=preview)
    sts = d.one(STS).inputs
    assert sts["spec"]["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}}
    assert sts["spec"]["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Delete"}
    assert sts["metadata"]["annotations"]["pulumi.com/waitFor"] == "jsonpath={.status.readyReplicas}=3"
    assert d.one(PDB).inputs["spec"]["minAvailable"] == 2
    with pytest.raises(ValidationError, match=r"update_strategy.partition=4 is greater than replicas=3"):
        RedisArgs(auth=False, update_strategy={"type": "RollingUpdate", "partition": 4})
    with pytest.raises(ValidationError, match=r"disruption_budget.min_available=3 with replicas=3 never allows"):
        RedisArgs(auth=False, disruption_budget={"min_available": 3})


def test_a_master_hands_over_from_a_pre_stop_hook_unless_turned_off(preview: bool) -> None:
    redis = containers(deploy(preview))["redis"]
    assert redis["lifecycle"] == {"preStop": {"exec": {"command": ["sh", "/config/prestop.sh"]}}}
    assert "lifecycle" not in containers(deploy(preview))["sentinel"]
    scripts = files(deploy(preview))
    assert "HANDOFF_SECONDS=15\n" in scripts["common.sh"]
    # The hook pauses writes, waits for the replicas, then asks Sentinel to fail over.
    prestop = scripts["prestop.sh"]
    assert prestop.index("CLIENT PAUSE") < prestop.index("WAIT") < prestop.index("SENTINEL FAILOVER")
    off = deploy(preview, master_handoff_seconds=0)
    assert "lifecycle" not in containers(off)["redis"]
    assert "HANDOFF_SECONDS=0\n" in files(off)["common.sh"]
