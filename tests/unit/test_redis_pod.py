"""RedisEnsemble's StatefulSet and pod under Pulumi mocks: the Redis, Sentinel and exporter containers,
TLS, overrides, and the master's handover before it stops."""

from __future__ import annotations

from statefulkit.args.redis import (
    REDIS_IMAGE,
)
from tests.support.mocks import env_of, pod_spec, sts_spec
from tests.support.redis_mocks import containers, deploy, files
from tests.support.tokens import CERTIFICATE, SECRET, STS, SVC


def test_statefulset(preview: bool) -> None:
    d = deploy(preview)
    spec = sts_spec(d)
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
    pod = sts_spec(d)["template"]["spec"]
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
    assert {"name": "tls", "secret": {"secretName": "cache-tls", "defaultMode": 0o440}} in pod_spec(d)["volumes"]


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
    spec = sts_spec(d)
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
