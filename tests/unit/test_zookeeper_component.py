"""ZooKeeperEnsemble under Pulumi mocks (preview and update): its component tree, the super user's
password Secret, and its outputs."""

from __future__ import annotations

import json
import re
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pulumi.runtime import rpc

from statefulkit.args.zookeeper import ZooKeeperArgs
from statefulkit.render.workload import render_workload
from statefulkit.render.zookeeper import ZooKeeperRender
from statefulkit.testing import SECRET_SIG, run
from statefulkit.zookeeper import ZooKeeperEnsemble
from tests.support.mocks import service, sts_spec
from tests.support.tokens import CM, PDB, SC, SECRET, STS, SVC, WORKLOAD, ZOOKEEPER
from tests.support.zookeeper_mocks import FQDN, config_data, config_map, container, deploy


def test_component_tree_names_and_parents(preview: bool) -> None:
    d = deploy(preview)
    ensemble = d.one(ZOOKEEPER)
    workload = d.one(WORKLOAD)
    assert ensemble.name == "zk" and ensemble.parent.endswith("pulumi:pulumi:Stack::statefulkit-test")
    assert workload.parent == ensemble.urn
    children = [r for r in d.resources if r.type in {STS, SVC, PDB, CM} and r.parent == workload.urn]
    assert sorted((r.type, r.k8s_name) for r in children) == sorted(
        [(CM, "zk-config"), (SVC, "zk"), (SVC, "zk-headless"), (STS, "zk"), (PDB, "zk")]
    )
    # The ensemble's own: the replica count a new ensemble founds itself with, and the super user's password.
    own = [r for r in d.resources if r.parent == ensemble.urn and r.type != WORKLOAD]
    assert sorted((r.type, r.k8s_name) for r in own) == [(CM, "zk-bootstrap"), (SECRET, "zk-admin")]
    assert d.of_type(SC) == []
    assert sts_spec(d)["serviceName"] == "zk-headless"


def test_the_admin_secret_is_random_secret_and_kept(preview: bool) -> None:
    first, second = deploy(preview), deploy(preview)
    secrets_ = [d.one(SECRET) for d in (first, second)]
    for secret in secrets_:
        assert secret.k8s_name == "zk-admin"
        assert secret.inputs["type"] == "Opaque"
        # Marked secret in the state, and generated only once: later runs keep the Secret's data.
        assert secret.wire["stringData"][rpc._special_sig_key] == SECRET_SIG
        assert set(secret.additional_secret_outputs) == {"data", "stringData"}
        assert set(secret.ignore_changes) == {"data", "stringData"}
    passwords = [secret.wire["stringData"]["value"]["password"] for secret in secrets_]
    assert passwords[0] != passwords[1]  # a fresh one per run, which ignore_changes drops after the first
    for password in passwords:
        assert re.fullmatch(r"[A-Za-z0-9_-]{40,}", password), password
    # The password is nowhere else: not in the ConfigMaps, the StatefulSet or the outputs.
    for r in first.resources:
        if r.type != SECRET:
            assert passwords[0] not in json.dumps(r.inputs, default=str), r.name
    assert passwords[0] not in json.dumps(first.outputs, default=str)
    # The StatefulSet waits for the Secret and the bootstrap ConfigMap it reads, but none of its
    # properties come from that ConfigMap: a scale replaces it, and must not replace the StatefulSet.
    sts = first.one(STS)
    bootstrap = config_map(first, "zk-bootstrap").urn
    assert first.one(SECRET).urn in sts.dependencies
    assert bootstrap in sts.dependencies
    assert first.one(SECRET).urn in sts.property_dependencies["spec"]
    assert not [key for key, urns in sts.property_dependencies.items() if bootstrap in urns]
    assert first.outputs["secret_name"] == first.one(SECRET).k8s_name


def test_an_existing_secret_is_used_instead(preview: bool) -> None:
    d = deploy(preview, existing_secret={"name": "zk-super", "key": "pw"})
    assert d.of_type(SECRET) == []
    env = {e["name"]: e["valueFrom"] for e in container(d)["env"]}
    assert env["ZK_SUPER_PASSWORD"] == {"secretKeyRef": {"name": "zk-super", "key": "pw"}}
    assert d.outputs["secret_name"] == "zk-super"  # noqa: S105 - a Secret's name


def test_an_existing_secret_may_be_an_output(preview: bool) -> None:
    def program() -> dict[str, Any]:
        secret = k8s.core.v1.Secret("super", metadata={"name": "super-pw"}, string_data={"pw": "x"})
        ensemble = ZooKeeperEnsemble("zk", {"existing_secret": {"name": secret.metadata.name, "key": "pw"}})
        return {"secret_name": ensemble.password_secret_name}

    d = run(program, preview=preview)
    sts = d.one(STS)
    env = {e["name"]: e["valueFrom"] for e in sts.inputs["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["ZK_SUPER_PASSWORD"] == {"secretKeyRef": {"name": "super-pw", "key": "pw"}}
    assert d.outputs["secret_name"] == "super-pw"  # noqa: S105 - a Secret's name
    assert next(r for r in d.of_type(SECRET) if r.k8s_name == "super-pw").urn in sts.dependencies


def test_outputs_with_plain_namespace(preview: bool) -> None:
    d = deploy(preview, namespace="data", cluster_domain="corp.internal")
    hosts = [FQDN.format(sts="zk", i=i, ns="data", domain="corp.internal") for i in range(3)]
    assert d.outputs["dns"] == hosts
    assert d.outputs["connect"] == ",".join(f"{h}:2181" for h in hosts)
    assert d.outputs["client_service"] == "zk"
    assert all(
        r.inputs["metadata"]["namespace"] == "data" for r in d.resources if r.type in {STS, SVC, PDB, CM, SECRET}
    )


def test_outputs_with_output_namespace(preview: bool) -> None:
    def program() -> dict[str, Any]:
        ns = k8s.core.v1.Namespace("ns", metadata={"name": "team-a"})
        ensemble = ZooKeeperEnsemble("coord", ZooKeeperArgs(namespace=ns.metadata.name, replicas=5))
        assert isinstance(ensemble.connect_string, pulumi.Output)
        return {"connect": ensemble.connect_string, "dns": ensemble.pod_dns_names}

    d = run(program, preview=preview)
    hosts = [FQDN.format(sts="coord", i=i, ns="team-a", domain="cluster.local") for i in range(5)]
    assert d.outputs["connect"] == ",".join(f"{h}:2181" for h in hosts)
    assert d.outputs["dns"] == hosts
    namespaced = [r for r in d.resources if r.type in {STS, SVC, PDB, CM, SECRET}]
    assert len(namespaced) == 7
    assert all(r.inputs["metadata"]["namespace"] == "team-a" for r in namespaced)
    # The ConfigMap does not depend on the Output: the script reads the namespace in the pod.
    assert "team-a" not in "".join(config_data(d).values())


def test_typed_and_dict_args_register_the_same(preview: bool) -> None:
    typed = ZooKeeperArgs(replicas=5, heap="256Mi", data_log_storage_size="2Gi", server_id_offset=3)

    def registered(args: Any) -> list[tuple[str, str, Any]]:
        d = run(lambda: ZooKeeperEnsemble("zk", args) and None, preview=preview)
        # The generated password differs on every run (the Secret keeps the first one).
        return sorted((r.type, r.name, r.inputs) for r in d.resources if r.type != SECRET)

    assert registered(typed) == registered(typed.model_dump(mode="python"))


def test_registered_manifests_are_the_pure_renderers(preview: bool) -> None:
    """What the real-server tests run (render_zookeeper) is exactly what the component registers."""
    spec = ZooKeeperArgs(replicas=5, data_log_storage_size="1Gi")
    d = run(lambda: ZooKeeperEnsemble("zk", spec) and None, preview=preview)
    rendered = ZooKeeperRender("zk", spec).manifests()
    assert rendered == render_workload("zk", ZooKeeperRender("zk", spec).workload_args())
    assert d.one(STS).inputs["spec"] == rendered.stateful_set["spec"]
    assert config_data(d) == rendered.config_map["data"]  # type: ignore[index]
    assert config_map(d, "zk-bootstrap").inputs["data"] == ZooKeeperRender("zk", spec).config_maps()[0]["data"]
    assert service(d, "zk-headless").inputs["spec"] == rendered.headless_service["spec"]
