"""Property tests: any accepted spec renders manifests that obey the rules; any rejected one
raises a ValidationError and nothing else."""

from __future__ import annotations

import math
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from statefulkit import StatefulWorkloadArgs
from statefulkit.args.common import parse_quantity
from statefulkit.args.workload import validate_name
from statefulkit.render.workload import WAIT_FOR_ANNOTATION, render_workload
from tests.support.properties import Outcomes, mostly

SELECTOR_KEYS = {"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component"}
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

names = st.from_regex(r"[a-z]([-a-z0-9]{0,50}[a-z0-9])?", fullmatch=True)


maybe_bad_names = mostly(names, st.text(max_size=70))
sizes = mostly(
    st.builds(lambda n, u: f"{n}{u}", st.integers(0, 4096), st.sampled_from(["Mi", "Gi", "Ti", "", "k", "M", "G"])),
    st.text(max_size=8),
)
paths = mostly(st.sampled_from(["/data", "/datalog", "/logs", "/var/lib/app", "/config"]), st.text(max_size=10))
claims = st.fixed_dictionaries(
    {"name": mostly(st.sampled_from(["data", "logs", "wal"]), st.just("Data")), "size": sizes, "mount_path": paths},
    optional={"storage_class_name": mostly(st.sampled_from(["fast", "standard"]), st.just("BAD_CLASS"))},
)
port_names = mostly(st.sampled_from(["client", "peer", "election", "admin", "metrics"]), st.text(max_size=18))
ports = st.lists(
    st.fixed_dictionaries({"name": port_names, "container_port": mostly(st.integers(1, 65535), st.integers())}),
    max_size=4,
)
int_or_percent = st.one_of(st.integers(-1, 8), st.builds(lambda p: f"{p}%", st.integers(0, 120)))
budgets = st.one_of(
    st.just("auto"),
    st.none(),
    st.fixed_dictionaries({"min_available": int_or_percent}, optional={"allow_blocking": st.booleans()}),
    st.fixed_dictionaries({"max_unavailable": int_or_percent}, optional={"allow_blocking": st.booleans()}),
    st.fixed_dictionaries({}, optional={"min_available": int_or_percent, "max_unavailable": int_or_percent}),
)
strategies = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("RollingUpdate")},
        optional={"partition": st.integers(-1, 9), "max_unavailable": int_or_percent},
    ),
    st.fixed_dictionaries({"type": st.just("OnDelete")}, optional={"max_unavailable": int_or_percent}),
)
spreads = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "topology_key": mostly(
                st.sampled_from(["topology.kubernetes.io/zone", "kubernetes.io/hostname"]), st.just("")
            ),
            "max_skew": mostly(st.integers(1, 3), st.integers(max_value=0)),
            "when_unsatisfiable": mostly(st.sampled_from(["ScheduleAnyway", "DoNotSchedule"]), st.just("Never")),
            "min_domains": st.integers(0, 3),
        },
    ),
    max_size=2,
)
volume_names = mostly(st.sampled_from(["scratch", "certs", "extra"]), st.sampled_from(["data", "config", "Bad"]))
extra_volumes = st.lists(
    st.one_of(
        st.fixed_dictionaries({"name": volume_names, "empty_dir": st.booleans()}),
        st.fixed_dictionaries({"name": volume_names, "secret": st.sampled_from(["tls", "Bad_Secret"])}),
        st.fixed_dictionaries(
            {"name": volume_names, "config_map": st.just("cm")}, optional={"default_mode": st.integers(-1, 0o1000)}
        ),
    ),
    max_size=2,
)
mounts = st.lists(
    st.fixed_dictionaries(
        {"name": volume_names, "mount_path": paths},
        optional={"read_only": st.booleans(), "sub_path": st.sampled_from(["a", "b/c", "/abs", "../up"])},
    ),
    max_size=2,
)
init_containers = st.lists(
    st.fixed_dictionaries(
        {"name": mostly(st.sampled_from(["init", "fix-perms"]), st.just("main"))},
        optional={"command": st.just(["true"]), "volume_mounts": mounts, "ports": ports},
    ),
    max_size=2,
)
securities = st.fixed_dictionaries(
    {},
    optional={
        "seccomp_profile": mostly(
            st.sampled_from(["RuntimeDefault", "Localhost/profiles/zk.json"]), st.just("Unconfined")
        ),
        "add_capabilities": mostly(st.just(["NET_BIND_SERVICE"]), st.sampled_from([["NET_ADMIN"], ["SYS_ADMIN"]])),
        "supplemental_groups": st.lists(st.integers(-1, 3000), max_size=2),
        "fs_group_change_policy": mostly(st.sampled_from(["OnRootMismatch", "Always"]), st.just("Never")),
    },
)
label_maps = st.dictionaries(
    mostly(st.sampled_from(["team", "app"]), st.just("bad key!")),
    mostly(st.just("x"), st.just("bad value!")),
    max_size=1,
)
sources = st.fixed_dictionaries({}, optional={"namespace_labels": label_maps, "pod_labels": label_maps})
policies = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {}, optional={"clients": st.lists(sources, max_size=2), "metrics": st.lists(sources, max_size=2)}
    ),
)
specs = st.fixed_dictionaries(
    {"image": mostly(st.sampled_from(["zookeeper:3.9.3", "redis:7.4"]), st.sampled_from(["bad image", ""]))},
    optional={
        "namespace": mostly(st.sampled_from(["default", "data"]), st.just("Bad_NS")),
        "replicas": mostly(st.integers(0, 9), st.integers(max_value=-1)),
        "ports": ports,
        "volume_claims": st.lists(claims, max_size=3),
        "create_storage_class": st.one_of(
            st.none(),
            st.fixed_dictionaries({"name": mostly(st.just("ssd"), st.just("Bad!")), "provisioner": st.just("p")}),
        ),
        "pod_management_policy": mostly(st.sampled_from(["OrderedReady", "Parallel"]), st.just("Serial")),
        "update_strategy": strategies,
        "disruption_budget": budgets,
        "anti_affinity": st.fixed_dictionaries(
            {"mode": mostly(st.sampled_from(["preferred", "required", "none"]), st.just("maybe"))}
        ),
        "publish_not_ready_addresses": st.booleans(),
        "client_service": st.booleans(),
        "config_files": st.dictionaries(
            mostly(st.sampled_from(["a.cfg", "start.sh"]), st.just("bad key")), st.text(max_size=5), max_size=2
        ),
        "labels": st.dictionaries(
            mostly(st.sampled_from(["team", "tier"]), st.just("app.kubernetes.io/name")), st.sampled_from(["x", "y"])
        ),
        "topology_spread": spreads,
        "extra_volumes": extra_volumes,
        "extra_volume_mounts": mounts,
        "init_containers": init_containers,
        "security": securities,
        "service_account_name": mostly(st.just("zk-reader"), st.just("Bad SA")),
        "image_pull_secrets": st.lists(mostly(st.just("registry"), st.just("Bad!")), max_size=1),
        "network_policy": policies,
    },
)


def effective_blocks(replicas: int, bound: int | str, is_min: bool) -> bool:
    value = math.ceil(int(bound[:-1]) * replicas / 100) if isinstance(bound, str) else bound
    return value >= replicas if is_min else value == 0


def check_rendered(name: str, spec: StatefulWorkloadArgs) -> None:
    m = render_workload(name, spec)
    sts = m.stateful_set
    sts_spec = sts["spec"]
    pod = sts_spec["template"]["spec"]
    selector = sts_spec["selector"]["matchLabels"]

    assert len(name) <= 52 and sts["metadata"]["name"] == name
    assert sts_spec["serviceName"] == m.headless_service["metadata"]["name"] == f"{name}-headless"
    assert set(selector) == SELECTOR_KEYS
    assert selector.items() <= sts_spec["template"]["metadata"]["labels"].items()
    for obj in [sts, m.headless_service, m.client_service, m.pdb, m.config_map]:
        if obj is not None:
            assert all(LABEL_VALUE.match(v) and len(v) <= 63 for v in obj["metadata"]["labels"].values())
    assert m.headless_service["spec"]["clusterIP"] == "None"
    assert m.headless_service["spec"]["publishNotReadyAddresses"] is spec.publish_not_ready_addresses

    # Anti-affinity and PDB select exactly the pods.
    anti = pod.get("affinity", {}).get("podAntiAffinity", {})
    terms = [t["podAffinityTerm"] for t in anti.get("preferredDuringSchedulingIgnoredDuringExecution", [])]
    terms += anti.get("requiredDuringSchedulingIgnoredDuringExecution", [])
    assert len(terms) == (0 if spec.anti_affinity.mode == "none" else 1)
    assert all(t["labelSelector"]["matchLabels"] == selector for t in terms)
    if m.pdb is not None:
        assert m.pdb["spec"]["selector"]["matchLabels"] == selector
        bounds = {k: v for k, v in m.pdb["spec"].items() if k != "selector"}
        assert len(bounds) == 1
        ((key, bound),) = bounds.items()
        budget = spec.disruption_budget
        forced = not isinstance(budget, str) and budget is not None and budget.allow_blocking
        assert forced or spec.replicas == 0 or not effective_blocks(spec.replicas, bound, key == "minAvailable")
    elif spec.disruption_budget == "auto":
        assert spec.replicas < 2

    # Claims: one template each, mounted everywhere at the claimed path, positive sizes.
    templates = sts_spec.get("volumeClaimTemplates", [])
    assert [t["metadata"]["name"] for t in templates] == [c.name for c in spec.volume_claims]
    for claim, template in zip(spec.volume_claims, templates, strict=True):
        assert parse_quantity(template["spec"]["resources"]["requests"]["storage"]) > 0
        created = spec.create_storage_class.name if spec.create_storage_class else None
        expected_class = claim.storage_class_name or spec.storage_class_name or created
        assert template["spec"].get("storageClassName") == expected_class
        for container in pod["containers"]:
            assert {"name": claim.name, "mountPath": claim.mount_path} in container["volumeMounts"]
    mount_paths = [mount["mountPath"] for mount in pod["containers"][0].get("volumeMounts", [])]
    assert len(mount_paths) == len(set(mount_paths))

    # Strategy and policy mapped exactly; held-back rollouts never make `pulumi up` wait for them.
    strategy = sts_spec["updateStrategy"]
    assert strategy["type"] == spec.update_strategy.type
    assert sts_spec["podManagementPolicy"] == spec.pod_management_policy.value
    held_back = strategy["type"] == "OnDelete" or strategy["rollingUpdate"]["partition"] > 0
    if strategy["type"] == "RollingUpdate":
        assert 0 <= strategy["rollingUpdate"]["partition"] <= spec.replicas
    wait_for = sts["metadata"].get("annotations", {}).get(WAIT_FOR_ANNOTATION)
    assert (wait_for is not None) == (held_back and spec.replicas > 0)

    # Ports: valid, unique names.
    port_list = [p for c in pod["containers"] for p in c.get("ports", [])]
    assert len({p["name"] for p in port_list}) == len(port_list)
    assert all(len(p["name"]) <= 15 and 1 <= p["containerPort"] <= 65535 for p in port_list)

    # Restricted pod security, whatever the overrides, in every container (init containers too).
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] in ("RuntimeDefault", "Localhost")
    assert all(gid >= 1 for gid in pod["securityContext"].get("supplementalGroups", []))
    for container in [*pod["containers"], *pod.get("initContainers", [])]:
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
        assert set(container["securityContext"]["capabilities"].get("add", [])) <= {"NET_BIND_SERVICE"}
    assert all(not (c.get("ports") or c.get("readinessProbe")) for c in pod.get("initContainers", []))

    # Spread constraints count exactly the workload's pods, one per key and mode.
    constraints = pod.get("topologySpreadConstraints", [])
    assert len(constraints) == len(spec.topology_spread)
    assert all(c["labelSelector"]["matchLabels"] == selector and c["maxSkew"] >= 1 for c in constraints)
    assert len({(c["topologyKey"], c["whenUnsatisfiable"]) for c in constraints}) == len(constraints)
    assert all(c["whenUnsatisfiable"] == "DoNotSchedule" for c in constraints if "minDomains" in c)

    # Every mount names a pod volume (a claim template or a volume of the pod), at a unique path.
    volumes = {v["name"] for v in pod.get("volumes", [])} | {t["metadata"]["name"] for t in templates}
    assert len(volumes) == len(pod.get("volumes", [])) + len(templates)
    for container in [*pod["containers"], *pod.get("initContainers", [])]:
        named = [m["mountPath"] for m in container.get("volumeMounts", [])]
        assert len(named) == len(set(named))
        assert {m["name"] for m in container.get("volumeMounts", [])} <= volumes
        assert all(not m.get("subPath", "a").startswith("/") for m in container.get("volumeMounts", []))

    # The NetworkPolicy covers exactly the pods and opens only declared ports.
    assert (m.network_policy is None) == (spec.network_policy is None)
    if m.network_policy is not None:
        assert m.network_policy["spec"]["podSelector"]["matchLabels"] == selector
        declared = {p["containerPort"] for p in port_list}
        opened = {p["port"] for rule in m.network_policy["spec"]["ingress"] for p in rule["ports"]}
        assert opened <= declared
        assert all(rule["from"] for rule in m.network_policy["spec"]["ingress"])

    retention = sts_spec["persistentVolumeClaimRetentionPolicy"]
    assert retention == {"whenDeleted": spec.pvc_retention.when_deleted, "whenScaled": spec.pvc_retention.when_scaled}


def test_accepted_specs_render_correctly_and_rejected_ones_raise_validation_errors() -> None:
    outcomes = Outcomes()

    @settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(name=maybe_bad_names, raw=specs)
    def check(name: str, raw: dict[str, Any]) -> None:
        try:
            validate_name(name)
            spec = StatefulWorkloadArgs.model_validate(raw)
        except ValidationError:
            outcomes("rejected")
            return
        outcomes("accepted")
        check_rendered(name, spec)

    check()
    # A model that rejected everything would pass unchecked: 34-49% of these specs were accepted
    # (12 seeds of 600 examples); below 20%, the model or the strategies changed.
    assert outcomes.share("accepted") >= 0.2, outcomes


@settings(max_examples=200, deadline=None)
@given(raw=specs)
def test_validation_is_deterministic(raw: dict[str, Any]) -> None:
    """The same input is always accepted or always rejected, with the same message."""
    outcomes = []
    for _ in range(2):
        try:
            outcomes.append(StatefulWorkloadArgs.model_validate(raw).model_dump_json())
        except ValidationError as error:
            outcomes.append(str(error))
    assert outcomes[0] == outcomes[1]


def test_accepted_specs_round_trip_through_plain_dicts() -> None:
    """What stack config would carry (a dumped dict) validates back to the same model."""
    outcomes = Outcomes()

    @settings(max_examples=150, deadline=None)
    @given(raw=specs)
    def check(raw: dict[str, Any]) -> None:
        try:
            spec = StatefulWorkloadArgs.model_validate(raw)
        except ValidationError:
            outcomes("rejected")
            return
        outcomes("accepted")
        assert StatefulWorkloadArgs.model_validate(spec.model_dump(mode="json")) == spec

    check()
    # A model that rejected everything would pass unchecked: 22-37% of these specs were accepted
    # (12 seeds of 150 examples); below 10%, the model or the strategies changed.
    assert outcomes.share("accepted") >= 0.1, outcomes
