"""The pod extensions every Args model shares (components/statefulkit/args/extensions.py), as rendered: what a
user adds lands in the pod exactly once, next to what the workload or ensemble renders itself;
the defaults add only the zone spread and a NetworkPolicy (whose meaning
tests/cluster/test_cluster_network_policy.py checks with an evaluator)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from statefulkit import RedisArgs, StatefulWorkloadArgs, ZooKeeperArgs
from statefulkit.args.options import WorkloadOptions
from statefulkit.render.redis import RedisRender
from statefulkit.render.workload import render_workload
from statefulkit.render.zookeeper import ZooKeeperRender

EXTENSIONS: dict[str, Any] = {
    "extra_volumes": [
        {"name": "certs", "secret": "tls", "default_mode": 0o440},
        {"name": "site", "config_map": "site-config"},
        {"name": "scratch", "empty_dir": True},
        {"name": "shared", "persistent_volume_claim": "shared-claim"},
    ],
    "extra_volume_mounts": [{"name": "certs", "mount_path": "/certs", "read_only": True, "sub_path": "server"}],
    "init_containers": [
        {"name": "prepare", "command": ["true"], "volume_mounts": [{"name": "scratch", "mount_path": "/s"}]}
    ],
    "sidecars": [
        {"name": "shipper", "image": "busybox:1.36", "volume_mounts": [{"name": "site", "mount_path": "/site"}]}
    ],
    "service_account_name": "ensemble",
    "automount_service_account_token": True,
    "image_pull_secrets": ["registry"],
    "topology_spread": [
        {"when_unsatisfiable": "DoNotSchedule", "min_domains": 3},
        {"topology_key": "kubernetes.io/hostname", "max_skew": 2},
    ],
    "security": {
        "seccomp_profile": "Localhost/profiles/ensemble.json",
        "add_capabilities": ["NET_BIND_SERVICE"],
        "supplemental_groups": [2000],
        "fs_group_change_policy": "Always",
    },
}


def pod_spec_of(args: StatefulWorkloadArgs, name: str = "ens") -> dict[str, Any]:
    pod: dict[str, Any] = render_workload(name, args).stateful_set["spec"]["template"]["spec"]
    return pod


def by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in items}


def test_the_defaults_add_only_a_zone_preference() -> None:
    pod = pod_spec_of(StatefulWorkloadArgs(image="app:1", replicas=3))
    selector = render_workload("ens", StatefulWorkloadArgs(image="app:1")).stateful_set["spec"]["selector"]
    assert pod["topologySpreadConstraints"] == [
        {
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": selector,
        }
    ]
    for absent in ("initContainers", "serviceAccountName", "imagePullSecrets", "volumes"):
        assert absent not in pod
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "supplementalGroups" not in pod["securityContext"]
    assert pod["containers"][0]["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert pod_spec_of(StatefulWorkloadArgs(image="app:1", topology_spread=[])).get("topologySpreadConstraints") is None


def test_every_extension_is_rendered_once_where_it_belongs() -> None:
    args = StatefulWorkloadArgs(
        image="app:1",
        volume_claims=[{"name": "data", "size": "1Gi", "mount_path": "/data"}],
        config_files={"app.cfg": "x=1\n"},
        **EXTENSIONS,
    )
    pod = pod_spec_of(args)
    volumes = by_name(pod["volumes"])
    assert list(volumes) == ["config", "certs", "site", "scratch", "shared"]
    assert volumes["certs"] == {"name": "certs", "secret": {"secretName": "tls", "defaultMode": 0o440}}
    assert volumes["site"] == {"name": "site", "configMap": {"name": "site-config"}}
    assert volumes["scratch"] == {"name": "scratch", "emptyDir": {}}
    assert volumes["shared"] == {"name": "shared", "persistentVolumeClaim": {"claimName": "shared-claim"}}

    main, shipper = pod["containers"]
    own = [{"name": "data", "mountPath": "/data"}, {"name": "config", "mountPath": "/config", "readOnly": True}]
    assert main["volumeMounts"] == [
        *own,
        {"name": "certs", "mountPath": "/certs", "readOnly": True, "subPath": "server"},
    ]
    assert shipper["volumeMounts"] == [*own, {"name": "site", "mountPath": "/site"}]
    (prepare,) = pod["initContainers"]
    assert prepare["name"] == "prepare" and prepare["image"] == "app:1" and prepare["command"] == ["true"]
    assert prepare["volumeMounts"] == [*own, {"name": "scratch", "mountPath": "/s"}]

    assert pod["serviceAccountName"] == "ensemble"
    assert pod["automountServiceAccountToken"] is True
    assert pod["imagePullSecrets"] == [{"name": "registry"}]
    assert pod["securityContext"]["seccompProfile"] == {
        "type": "Localhost",
        "localhostProfile": "profiles/ensemble.json",
    }
    assert pod["securityContext"]["supplementalGroups"] == [2000]
    assert pod["securityContext"]["fsGroupChangePolicy"] == "Always"
    for container in [main, shipper, prepare]:
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
    zone, host = pod["topologySpreadConstraints"]
    assert zone["whenUnsatisfiable"] == "DoNotSchedule" and zone["minDomains"] == 3
    assert host["topologyKey"] == "kubernetes.io/hostname" and host["maxSkew"] == 2 and "minDomains" not in host


def test_ensembles_add_the_extensions_to_what_they_render() -> None:
    zk = pod_spec_of(
        ZooKeeperRender("zk", ZooKeeperArgs(extra_env={"JVMFLAGS_EXTRA": "-Dx=1"}, **EXTENSIONS)).workload_args()
    )
    (server, shipper) = zk["containers"]
    env = [e["name"] for e in server["env"]]
    assert env[-1] == "JVMFLAGS_EXTRA" and len(env) == len(set(env)) > 1  # after the ensemble's own
    assert shipper["name"] == "shipper"
    assert [v["name"] for v in zk["volumes"]] == ["config", "certs", "site", "scratch", "shared"]
    assert zk["serviceAccountName"] == "ensemble" and zk["initContainers"][0]["name"] == "prepare"

    redis_args = RedisArgs(existing_secret={"name": "auth", "key": "password"}, extra_env={"TZ": "UTC"}, **EXTENSIONS)
    redis = pod_spec_of(RedisRender("redis", redis_args).workload_args(), "redis")
    # Sentinel stays the first sidecar; the user's follow.
    assert [c["name"] for c in redis["containers"]] == ["redis", "sentinel", "shipper"]
    assert redis["containers"][0]["env"][-1] == {"name": "TZ", "value": "UTC"}
    assert all(e["name"] != "TZ" for e in redis["containers"][1]["env"])  # extra_env is the main container's
    assert redis["topologySpreadConstraints"][0]["minDomains"] == 3


def test_the_default_network_policy_admits_members_and_same_namespace_clients_only() -> None:
    manifests = ZooKeeperRender("zk", ZooKeeperArgs(namespace="data")).manifests()
    policy = manifests.network_policy
    assert policy is not None and policy["metadata"]["name"] == "zk" and policy["metadata"]["namespace"] == "data"
    selector = manifests.stateful_set["spec"]["selector"]
    tcp = lambda *ports: [{"port": p, "protocol": "TCP"} for p in ports]  # noqa: E731
    assert policy["spec"] == {
        "podSelector": selector,
        "policyTypes": ["Ingress"],
        "ingress": [
            {"from": [{"podSelector": selector}], "ports": tcp(2181, 2888, 3888)},  # members; not 8080, 7000
            {"from": [{"podSelector": {}}], "ports": tcp(2181)},  # any pod of the namespace
        ],
    }
    # Sources: a team's namespaces (any pod), one labelled pod anywhere, every namespace.
    sources = [{"namespace_labels": {"team": "apps"}}, {"namespace_labels": {}, "pod_labels": {"app": "web"}}]
    custom = ZooKeeperRender("zk", ZooKeeperArgs(network_policy={"clients": sources, "metrics": [{}]})).manifests()
    assert custom.network_policy is not None
    rules = custom.network_policy["spec"]["ingress"]
    assert rules[1]["from"] == [
        {"namespaceSelector": {"matchLabels": {"team": "apps"}}},
        {"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "web"}}},
    ]
    assert rules[2] == {"from": [{"podSelector": {}}], "ports": tcp(7000)}
    assert ZooKeeperRender("zk", ZooKeeperArgs(network_policy=None)).manifests().network_policy is None
    # No client or metrics source: only the members get in.
    closed = ZooKeeperRender("zk", ZooKeeperArgs(network_policy={"clients": []})).manifests().network_policy
    assert closed is not None and len(closed["spec"]["ingress"]) == 1


PROMETHEUS = {"namespace_labels": {"kubernetes.io/metadata.name": "monitoring"}, "pod_labels": {"app": "prometheus"}}


def test_a_pod_monitor_scrapes_every_metrics_port_of_the_pods() -> None:
    monitor = {"interval_seconds": 15, "labels": {"release": "prometheus"}}
    scraped = {"metrics": [PROMETHEUS]}
    zk = ZooKeeperRender("zk", ZooKeeperArgs(namespace="data", pod_monitor=monitor, network_policy=scraped)).manifests()
    assert zk.pod_monitor is not None
    assert zk.pod_monitor["metadata"]["labels"]["release"] == "prometheus"
    assert zk.pod_monitor["spec"] == {
        "selector": zk.stateful_set["spec"]["selector"],
        "podMetricsEndpoints": [{"port": "metrics", "path": "/metrics", "interval": "15s"}],
    }
    redis_args = RedisArgs(
        existing_secret={"name": "a", "key": "p"}, exporter={}, pod_monitor={}, network_policy=scraped
    )
    redis = render_workload("redis", RedisRender("redis", redis_args).workload_args())
    assert redis.pod_monitor is not None
    assert [e["port"] for e in redis.pod_monitor["spec"]["podMetricsEndpoints"]] == ["metrics"]
    assert ZooKeeperRender("zk", ZooKeeperArgs()).manifests().pod_monitor is None
    # Without a NetworkPolicy nothing blocks the scrapes.
    assert ZooKeeperRender("zk", ZooKeeperArgs(pod_monitor={}, network_policy=None)).manifests().pod_monitor is not None


def test_every_port_a_pod_monitor_scrapes_is_open_to_a_metrics_source() -> None:
    """What the monitor scrapes, the workload's own NetworkPolicy lets the named Prometheus reach."""
    scraped = {"metrics": [PROMETHEUS]}
    redis_args = RedisArgs(auth=False, exporter={"port": 9500}, pod_monitor={}, network_policy=scraped)
    for manifests in (
        ZooKeeperRender("zk", ZooKeeperArgs(pod_monitor={}, network_policy=scraped)).manifests(),
        render_workload("redis", RedisRender("redis", redis_args).workload_args()),
    ):
        assert manifests.pod_monitor is not None and manifests.network_policy is not None
        pod = manifests.stateful_set["spec"]["template"]["spec"]
        numbers = {p["name"]: p["containerPort"] for c in pod["containers"] for p in c.get("ports", [])}
        scrapes = {numbers[e["port"]] for e in manifests.pod_monitor["spec"]["podMetricsEndpoints"]}
        prometheus = {"namespaceSelector": {"matchLabels": PROMETHEUS["namespace_labels"]}}
        prometheus["podSelector"] = {"matchLabels": PROMETHEUS["pod_labels"]}
        opened = {
            p["port"]
            for rule in manifests.network_policy["spec"]["ingress"]
            if prometheus in rule["from"]
            for p in rule["ports"]
        }
        assert scrapes and scrapes <= opened, (scrapes, opened)


@pytest.mark.parametrize(
    ("model", "args"),
    [
        (
            StatefulWorkloadArgs,
            {"image": "app:1", "ports": [{"name": "m", "container_port": 9, "reachable_by": "metrics"}]},
        ),
        (ZooKeeperArgs, {}),
        (RedisArgs, {"auth": False, "exporter": {}}),
    ],
)
def test_a_pod_monitor_the_network_policy_would_block_is_refused(model: type[BaseModel], args: dict[str, Any]) -> None:
    policies: list[dict[str, Any]] = [{}, {"clients": [{}], "metrics": []}]
    for policy in policies:  # the default policy admits no metrics source
        with pytest.raises(ValidationError) as caught:
            model.model_validate({**args, "pod_monitor": {"interval_seconds": 15}, "network_policy": policy})
        (error,) = caught.value.errors()
        assert error["loc"] == ("pod_monitor",)
        for fragment in (
            "network_policy.metrics=[] admits no metrics source",
            "would block every scrape",
            "network_policy=None",
        ):
            assert fragment in error["msg"], error["msg"]
    with pytest.raises(ValidationError, match=r"network_policy\.metrics"):
        model.model_validate({**args, "pod_monitor": {}})
    unguarded = model.model_validate({**args, "pod_monitor": {}, "network_policy": None})
    assert isinstance(unguarded, WorkloadOptions) and unguarded.pod_monitor is not None
