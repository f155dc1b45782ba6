"""examples/composition/ through the real engine: a larger stack's own Namespace and Secret feed
both ensembles through Outputs, and its client Deployment receives the real connection details."""

from __future__ import annotations

import uuid
from pathlib import Path

from tests.support.engine_project import Project
from tests.support.local_cluster import LocalCluster
from tools.engine import ROOT, Engine

EXAMPLE = ROOT / "examples" / "composition"
PASSWORD_KEY = "statefulkit-composition:redis_password"  # noqa: S105 - a config key


def test_the_composition_example_deploys_on_its_own_outputs_and_destroys_down_to_its_data(
    engine: Engine, local_cluster: LocalCluster, tmp_path: Path
) -> None:
    project = Project.copy(EXAMPLE, tmp_path, engine, "e2e", {})
    project.set_secret(PASSWORD_KEY, "composition-" + uuid.uuid4().hex)
    namespace = ""
    try:
        project.up()
        outputs = project.outputs()
        namespace = outputs["namespace"]
        assert namespace.startswith("shop-") and namespace != "shop"  # named by Pulumi: known only as an Output

        zk = {p["metadata"]["name"]: p for p in local_cluster.pods(namespace, "app.kubernetes.io/instance=zk")}
        cache = {p["metadata"]["name"]: p for p in local_cluster.pods(namespace, "app.kubernetes.io/instance=cache")}
        assert sorted(zk) == ["zk-0", "zk-1", "zk-2"] and sorted(cache) == ["cache-0", "cache-1", "cache-2"]
        domain = f"{namespace}.svc.cluster.local"
        connect = ",".join(f"zk-{i}.{zk[f'zk-{i}']['spec']['subdomain']}.{domain}:2181" for i in range(3))
        sentinels = [f"cache-{i}.{cache[f'cache-{i}']['spec']['subdomain']}.{domain}:26379" for i in range(3)]
        assert outputs["zookeeper_connect_string"] == connect
        assert outputs["redis_sentinel_addresses"] == sentinels

        deployment = local_cluster.get("deployment", outputs["client_deployment"], namespace=namespace)
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e for e in container["env"]}
        assert env["ZK_CONNECT"]["value"] == connect
        assert env["REDIS_SENTINELS"]["value"] == ",".join(sentinels)
        assert env["REDIS_MASTER_NAME"]["value"] == "mymaster"
        secret_ref = env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert secret_ref == {"name": outputs["redis_password_secret"], "key": "password"}
        statefulset = local_cluster.get("statefulset", "cache", namespace=namespace)
        redis_env = {e["name"]: e for e in statefulset["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert redis_env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == outputs["redis_password_secret"]
        assert local_cluster.get("secret", outputs["redis_password_secret"], namespace=namespace)["data"]["password"]

        again, _ = project.up()
        assert set(again) == {"same"}, again

        project.destroy()
        # Left on purpose: the namespace (retain_on_delete) and, in it, the ensembles' claims.
        assert local_cluster.get("namespace", namespace)["status"]["phase"] == "Active"
        claims = sorted(c["metadata"]["name"] for c in local_cluster.get("pvc", namespace=namespace)["items"])
        assert claims == [f"data-cache-{i}" for i in range(3)] + [f"data-zk-{i}" for i in range(3)]
        for kind in ("statefulsets", "deployments", "services", "secrets", "configmaps", "pdb"):
            left = local_cluster.kubectl("get", kind, "-n", namespace, "-o", "name").stdout.split()
            assert [n for n in left if not n.endswith("/kube-root-ca.crt")] == [], (kind, left)
        assert project.resources() == []
    finally:
        project.remove(local_cluster)
        if namespace:  # retained by the destroy above, and so no longer in the state
            local_cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
