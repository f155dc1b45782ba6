"""ZooKeeper's quorum arithmetic, and the disruption budgets and member counts it allows."""

from __future__ import annotations

from statefulkit.args.quorum import fault_tolerance, quorum_size
from statefulkit.args.zookeeper import ZooKeeperArgs
from statefulkit.render.zookeeper import ZooKeeperRender
from tests.support.mocks import sts_spec
from tests.support.tokens import PDB
from tests.support.zookeeper_mocks import config_data, deploy


def test_pdb_keeps_quorum(preview: bool) -> None:
    pdb = deploy(preview).one(PDB).inputs["spec"]
    assert pdb == {"selector": {"matchLabels": pdb["selector"]["matchLabels"]}, "maxUnavailable": 1}
    assert deploy(preview, replicas=5).one(PDB).inputs["spec"]["maxUnavailable"] == 1
    assert (
        deploy(preview, replicas=5, disruption_budget={"max_unavailable": 2}).one(PDB).inputs["spec"]["maxUnavailable"]
        == 2
    )


def test_single_member_has_no_pdb_and_is_a_quorum_of_one(preview: bool) -> None:
    d = deploy(preview, replicas=1)
    assert d.of_type(PDB) == []
    # Not standalone: a quorum of one can grow by reconfig without a restart.
    assert "standaloneEnabled=false" in config_data(d)["zoo-base.cfg"].splitlines()
    assert d.outputs["connect"] == "zk-0.zk-headless.default.svc.cluster.local:2181"


def test_no_pdb_when_asked(preview: bool) -> None:
    assert deploy(preview, disruption_budget=None).of_type(PDB) == []


def test_even_replicas_allowed_on_request(preview: bool) -> None:
    d = deploy(preview, replicas=4, allow_even_replicas=True)
    assert sts_spec(d)["replicas"] == 4
    assert d.one(PDB).inputs["spec"]["maxUnavailable"] == 1


def test_quorum_arithmetic() -> None:
    assert [(n, quorum_size(n), fault_tolerance(n)) for n in (1, 2, 3, 4, 5, 7)] == [
        (1, 1, 0),
        (2, 2, 0),
        (3, 2, 1),
        (4, 3, 1),
        (5, 3, 2),
        (7, 4, 3),
    ]


def test_auto_budget_follows_the_quorum_not_the_replica_count() -> None:
    """Two members cannot lose one and keep a quorum: 'auto' gives them no PDB (a budget could
    only block drains), three or more get maxUnavailable 1."""
    two = ZooKeeperRender("zk", ZooKeeperArgs(replicas=2, allow_even_replicas=True)).manifests()
    assert two.pdb is None
    for replicas in (3, 4, 5):
        manifests = ZooKeeperRender("zk", ZooKeeperArgs(replicas=replicas, allow_even_replicas=True)).manifests()
        assert manifests.pdb is not None and manifests.pdb["spec"]["maxUnavailable"] == 1
