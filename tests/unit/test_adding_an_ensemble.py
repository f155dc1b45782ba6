"""The smallest third ensemble, written here only (ARCHITECTURE.md, "Adding an ensemble"): one
redis-server per pod, no Sentinel, a password from the created Secret. It goes through the base
(EnsembleOptions, EnsembleRender, Ensemble) and the registry, and nothing else of the package
changes for it."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest
from pydantic import Field, ValidationError

from statefulkit import ENSEMBLES, EnvVar, Probe, StatefulWorkloadArgs, VolumeClaim
from statefulkit.args.ensemble import EnsembleOptions
from statefulkit.args.pod import PodContainer, PodParts, own
from statefulkit.ensemble import Ensemble
from statefulkit.render.ensemble import EnsembleRender
from statefulkit.testing import MockRunner

PORT = 6379
PASSWORD_ENV = "SOLO_PASSWORD"  # noqa: S105 - a variable name


class SoloArgs(EnsembleOptions):
    """One Redis server per pod, each on its own."""

    metrics_switch = ("there is no exporter", "drop pod_monitor")
    image: str = Field("redis:8.10.2", min_length=1)
    storage_size: str = Field("1Gi")

    def own_pod(self) -> PodParts:
        main = PodContainer(
            name=own("solo", "the server's container"), env=[own(PASSWORD_ENV, "the password, from its Secret")]
        )
        return PodParts(owner="the ensemble", containers=[main], volumes=[own("data", "the data claim")])

    def serves_metrics(self) -> bool:
        return False


class SoloRender(EnsembleRender[SoloArgs]):
    app_name = "solo"
    secret_suffix = "auth"  # noqa: S105 - a name suffix

    def certified_services(self) -> list[str]:
        return [self.workload_names.headless_service]

    def workload_args(self, secret_name: Any = None) -> StatefulWorkloadArgs:
        password = self.password_ref(secret_name)
        assert password is not None
        return StatefulWorkloadArgs(
            **self.args.workload_options(),
            container_name="solo",
            ports=[{"name": "redis", "container_port": PORT}],
            command=["sh", "-c", f'exec redis-server --requirepass "${PASSWORD_ENV}" --dir /data'],
            env=[EnvVar(name=PASSWORD_ENV, secret_key_ref=password), *self.args.extra_env],
            volume_claims=[VolumeClaim(name="data", size=self.args.storage_size, mount_path="/data")],
            readiness_probe=Probe(exec_command=["redis-cli", "--no-auth-warning", "ping"]),
            app_name=self.app_name,
        )


class SoloEnsemble(Ensemble[SoloArgs]):
    pulumi_type = "tests:index:SoloEnsemble"
    args_type = SoloArgs
    render_type = SoloRender

    def _password(self) -> pulumi.Output[str]:
        return pulumi.Output.secret("not-random-in-a-test")


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one registry line a new ensemble adds."""
    monkeypatch.setitem(ENSEMBLES, "solo", SoloEnsemble)


@pytest.mark.usefixtures("registered")
def test_a_third_ensemble_renders_a_statefulset_through_the_base(pulumi_mocks: MockRunner) -> None:
    ensemble = ENSEMBLES["solo"]
    d = pulumi_mocks.run(lambda: {"dns": ensemble("cache", {"replicas": 2, "namespace": "apps"}).pod_dns_names})
    sts = d.one(kind="StatefulSet", k8s_name="cache")
    spec = sts.inputs["spec"]
    assert spec["replicas"] == 2
    assert spec["serviceName"] == "cache-headless"
    [claim] = spec["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    [container] = spec["template"]["spec"]["containers"]
    [env] = container["env"]
    assert env["valueFrom"]["secretKeyRef"] == {"name": "cache-auth", "key": "password"}
    secret = d.one(kind="Secret", k8s_name="cache-auth")
    assert secret.parent.endswith("tests:index:SoloEnsemble::cache")
    # The shared workload parts came along: the headless Service, the budget, the NetworkPolicy.
    kinds = {r.kind for r in d.children(d.one(type="tests:index:SoloEnsemble"), recursive=True)}
    assert kinds == {"Secret", "Service", "StatefulSet", "PodDisruptionBudget", "NetworkPolicy", None}
    assert d.outputs["dns"] == [f"cache-{i}.cache-headless.apps.svc.cluster.local" for i in range(2)]


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        (
            {"pod_monitor": {}, "network_policy": None},
            "pod_monitor is set but there is no exporter: the PodMonitor would scrape nothing",
        ),
        ({"extra_env": {PASSWORD_ENV: "x"}}, f"'{PASSWORD_ENV}' is set by the ensemble itself"),
        ({"extra_config": {"a": "b\nc"}}, "a value must be a single line"),
        ({"replica": 3}, "did you mean 'replicas'?"),
    ],
)
def test_the_shared_rules_judge_the_third_ensemble(fields: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment.replace("?", r"\?")):
        SoloArgs.model_validate(fields)
