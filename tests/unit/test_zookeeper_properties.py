"""Property test: any ZooKeeperArgs the model accepts renders a correct ensemble."""

from __future__ import annotations

from functools import partial
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from statefulkit.args.quorum import fault_tolerance
from statefulkit.args.zookeeper import ZooKeeperArgs
from statefulkit.render.zookeeper import ZooKeeperRender
from tests.support import properties
from tests.support.properties import Outcomes
from tests.support.zookeeper_mocks import server_lines

# 12 valid values to 1: a spec has many fields that may each be bad.
mostly = partial(properties.mostly, valid_per_invalid=12)
ZK_NAMES = st.from_regex(r"[a-z]([-a-z0-9]{0,20}[a-z0-9])?", fullmatch=True)


SPEC_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "replicas": mostly(st.sampled_from([1, 3, 5, 7]), st.integers(-2, 8)),
        "allow_even_replicas": st.booleans(),
        "server_id_offset": mostly(st.integers(0, 200), st.integers(-1, 260)),
        "tick_time_ms": mostly(st.integers(1, 5000), st.integers(-1, 0)),
        "init_limit": mostly(st.integers(1, 20), st.integers(-1, 0)),
        "sync_limit": mostly(st.integers(1, 20), st.integers(-1, 0)),
        "heap": mostly(
            st.sampled_from(["64Mi", "128Mi", "512Mi", "768Mi"]), st.sampled_from(["16Mi", "2Gi", "1.5Mi", "x"])
        ),
        "resources": st.sampled_from(
            [{}, {"limits": {"memory": "1Gi"}}, {"limits": {"memory": "256Mi"}}, {"requests": {"memory": "3Gi"}}]
        ),
        "autopurge_snap_retain_count": mostly(st.integers(3, 10), st.integers(0, 2)),
        "four_letter_words": mostly(
            st.lists(st.sampled_from(["mntr", "stat", "isro"]), max_size=3).map(lambda w: ["srvr", "ruok", "conf", *w]),
            st.lists(st.sampled_from(["srvr", "ruok", "mntr", "kill"]), max_size=3),
        ),
        "disruption_budget": st.sampled_from(
            [
                None,
                "auto",
                {"max_unavailable": 1},
                {"max_unavailable": 2},
                {"min_available": "60%"},
                {"min_available": 1},
            ]
        ),
        "update_strategy": st.sampled_from(
            [
                {"type": "OnDelete"},
                {"type": "RollingUpdate"},
                {"type": "RollingUpdate", "partition": 2},
                {"type": "RollingUpdate", "max_unavailable": 2},
            ]
        ),
        "data_log_storage_size": mostly(st.sampled_from([None, "1Gi"]), st.just("0")),
        "cluster_domain": mostly(st.sampled_from(["cluster.local", "corp.internal"]), st.just("Bad_Domain")),
        "extra_config": mostly(st.sampled_from([{}, {"snapCount": "1000"}]), st.just({"server.1": "x"})),
        "tls": st.sampled_from(
            [
                None,
                {"secret_name": "zk-certs"},
                {"issuer_ref": {"name": "ca"}, "client_certificates": True},
                {},  # neither source
                {"secret_name": "zk-certs", "issuer_ref": {"name": "ca"}},  # both
                {"secret_name": "Bad_Secret"},
            ]
        ),
        "plaintext_client_port": st.booleans(),
        "metrics": st.booleans(),
        "pod_monitor": st.sampled_from([None, {}, {"interval_seconds": 0}]),
    },
)


def test_accepted_specs_render_a_correct_ensemble() -> None:
    outcomes = Outcomes()

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(name=ZK_NAMES, fields=SPEC_FIELDS, namespace=st.sampled_from(["default", "team-a"]))
    def check(name: str, fields: dict[str, Any], namespace: str) -> None:
        try:
            spec = ZooKeeperArgs.model_validate(fields)
        except ValidationError:
            outcomes("rejected")
            return  # rejected cleanly; any other exception fails the test
        outcomes("accepted")
        n = spec.replicas
        assert n >= 1 and (n % 2 == 1 or spec.allow_even_replicas)
        lines = server_lines(name, spec, namespace)
        ids = [int(line.split("=", 1)[0].removeprefix("server.")) for line in lines]
        assert len(set(ids)) == n
        assert all(1 <= i <= 255 for i in ids)
        assert len({line.split("=", 1)[1] for line in lines}) == n
        manifests = ZooKeeperRender(name, spec).manifests()  # never raises for an accepted spec
        assert manifests.stateful_set["spec"]["replicas"] == n
        assert manifests.headless_service["spec"]["publishNotReadyAddresses"] is True
        budget = manifests.pdb["spec"] if manifests.pdb else None
        if budget and "maxUnavailable" in budget and isinstance(budget["maxUnavailable"], int):
            assert budget["maxUnavailable"] <= fault_tolerance(n)
        cfg = manifests.config_map["data"]["zoo-base.cfg"] if manifests.config_map else ""
        assert "srvr" in cfg and "ruok" in cfg
        # TLS: quorum TLS and a TLS client port exactly when asked, and clients are sent there.
        assert ("sslQuorum=true" in cfg) == ("secureClientPort=2281" in cfg) == (spec.tls is not None)
        client_ports = (
            {p["port"] for p in manifests.client_service["spec"]["ports"]} if manifests.client_service else set()
        )
        expected = {2181} if spec.tls is None else ({2181, 2281} if spec.plaintext_client_port else {2281})
        assert client_ports == expected
        assert spec.tls is not None or not spec.plaintext_client_port
        assert (manifests.pod_monitor is not None) == (spec.pod_monitor is not None)

    check()
    # A model that rejected everything would pass unchecked: 42-56% of these specs were accepted
    # (12 seeds of 300 examples); below 25%, the model or the strategies changed.
    assert outcomes.share("accepted") >= 0.25, outcomes
