"""`pulumi destroy` as users run it, through the real engine: with the delete hook (the default) a
plain destroy is refused by the engine, naming `--run-program`, before anything is deleted; with
`delete_hook: false` a plain destroy works, and a larger storage size replaces the StatefulSet
(its pods restart) and then grows the claims it finds. The ordered teardown with the program runs
in tests/engine/test_engine_day2.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.support.engine_project import Project, deployed, small_ensembles
from tests.support.local_cluster import LocalCluster
from tests.support.polling import wait_until
from tools.engine import Engine


@pytest.fixture(scope="module")
def project(engine: Engine, local_cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    config = small_ensembles(f"sk-destroy-{uuid.uuid4().hex[:6]}")
    with deployed(engine, local_cluster, tmp_path_factory.mktemp("project"), "destroy", config) as project:
        yield project


def statefulsets(cluster: LocalCluster, namespace: str) -> list[str]:
    return sorted(s["metadata"]["name"] for s in cluster.get("statefulsets", namespace=namespace)["items"])


def zookeeper_claim_sizes(cluster: LocalCluster, namespace: str) -> set[str]:
    items = cluster.get("persistentvolumeclaims", namespace=namespace)["items"]
    return {
        c["spec"]["resources"]["requests"]["storage"] for c in items if c["metadata"]["name"].startswith("data-zoo")
    }


def test_a_plain_destroy_is_refused_while_a_delete_hook_is_registered(
    project: Project, local_cluster: LocalCluster
) -> None:
    printed = project.failing("destroy")
    assert "--run-program" in printed.text, printed.text
    assert statefulsets(local_cluster, project.namespace) == ["redis", "zookeeper"]
    assert len(local_cluster.pods(project.namespace)) == 6


def test_without_the_delete_hook_a_plain_destroy_works(project: Project, local_cluster: LocalCluster) -> None:
    namespace = project.namespace
    with project.editing() as config:
        for block in ("statefulkit:zookeeper", "statefulkit:redis"):
            config[block]["delete_hook"] = False
    changes, printed = project.up()
    assert not {"replace", "delete", "create"} & set(changes), (
        changes,
        printed.text,
    )  # turning it off replaces nothing

    # A larger size replaces the StatefulSet on the provider's own terms (the stated trade-off: its
    # pods restart), then the after-create hook grows the claims the new StatefulSet found.
    before = {
        p["metadata"]["name"]: p["metadata"]["uid"]
        for p in local_cluster.pods(namespace, "app.kubernetes.io/instance=zookeeper")
    }
    with project.editing() as config:
        config["statefulkit:zookeeper"]["storage_size"] = "2Gi"
    changes, printed = project.up()
    assert changes.get("replace") == 1, (changes, printed.text)
    assert "growing claim" in printed.text, printed.text
    assert zookeeper_claim_sizes(local_cluster, namespace) == {"2Gi"}
    after = {
        p["metadata"]["name"]: p["metadata"]["uid"]
        for p in local_cluster.pods(namespace, "app.kubernetes.io/instance=zookeeper")
    }
    assert sorted(after) == sorted(before) and not set(after.values()) & set(before.values()), (before, after)

    destroyed = project.destroy(run_program=False)
    assert "scaling StatefulSet" not in destroyed.text  # no hook ran: the provider deleted them itself
    assert statefulsets(local_cluster, namespace) == []
    wait_until("every pod gone", lambda: local_cluster.pods(namespace) == [], timeout=120)
