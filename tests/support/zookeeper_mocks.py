"""A ZooKeeperEnsemble under mocks, and what its tests read from it."""

from __future__ import annotations

from typing import Any

from statefulkit.args.zookeeper import CLIENT_PORT, ELECTION_PORT, QUORUM_PORT, ZooKeeperArgs
from statefulkit.render.workload import WorkloadNames, pod_dns_names
from statefulkit.testing import Deployment, Resource, run
from statefulkit.zookeeper import ZooKeeperEnsemble
from tests.support.mocks import sts_spec
from tests.support.tokens import CM

FQDN = "{sts}-{i}.{sts}-headless.{ns}.svc.{domain}"


def deploy(preview: bool, name: str = "zk", **args: Any) -> Deployment:
    def program() -> dict[str, Any]:
        ensemble = ZooKeeperEnsemble(name, args)
        return {
            "connect": ensemble.connect_string,
            "client_service": ensemble.client_service_name,
            "dns": ensemble.pod_dns_names,
            "secret_name": ensemble.password_secret_name,
        }

    return run(program, preview=preview, project="statefulkit")


def container(d: Deployment) -> dict[str, Any]:
    containers = sts_spec(d)["template"]["spec"]["containers"]
    assert len(containers) == 1
    main: dict[str, Any] = containers[0]
    return main


def config_map(d: Deployment, k8s_name: str | None = None) -> Resource:
    """The ConfigMap named `k8s_name`; by default the ensemble's hashed `<name>-config`."""
    return next(
        r for r in d.of_type(CM) if r.k8s_name == k8s_name or (k8s_name is None and r.k8s_name.endswith("-config"))
    )


def config_data(d: Deployment) -> dict[str, str]:
    data: dict[str, str] = config_map(d).inputs["data"]
    return data


def server_lines(name: str, spec: ZooKeeperArgs, namespace: str) -> list[str]:
    """What a brand-new ensemble's membership must be: one participant line per member, ids from
    ordinal + 1 + server_id_offset, hosts the members' FQDNs (the oracle for start.sh)."""
    hosts = pod_dns_names(WorkloadNames.of(name), spec.replicas, namespace, spec.cluster_domain)
    return [
        f"server.{server_id}={host}:{QUORUM_PORT}:{ELECTION_PORT}:participant;{CLIENT_PORT}"
        for server_id, host in zip(spec.server_ids(), hosts, strict=True)
    ]
