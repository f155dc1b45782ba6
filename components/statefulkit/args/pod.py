"""What a pod holds and who put it there, and the rules that keep its parts apart.

Container names, port names, ports, the variables of a container, volume names and the mount
paths of a container must each be unique. StatefulWorkloadArgs checks its whole pod with these
rules. ZooKeeperArgs and RedisArgs check, with the same rules, what their user adds (extra_env,
extra_volumes and extra_volume_mounts, sidecars, init containers) against what the ensemble puts
into the pod itself (`EnsembleOptions.own_pod`). So a clash is refused naming the user's field
before anything renders, and whatever an ensemble accepts renders a valid StatefulWorkloadArgs.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from statefulkit.args.common import Loc, field_path, refusal
from statefulkit.args.container import Container, ContainerPort, EnvVar, Probe

if TYPE_CHECKING:
    from statefulkit.args.options import WorkloadOptions

# The pod volume of a workload's config_files (components/statefulkit/render/pod.py mounts it).
CONFIG_VOLUME = "config"
PROBES = ("readiness_probe", "liveness_probe", "startup_probe")


@dataclass(frozen=True)
class Part:
    """A name, port or path in the pod. `loc` is the field path its user wrote it at and `value`
    what they wrote there; a part the pod's owner sets itself has no loc, and `why` says what it
    is. `label` shows the part in a message."""

    key: Hashable
    label: str
    loc: Loc = ()
    value: Any = None
    why: str = ""


def own(key: Hashable, why: str, label: str | None = None) -> Part:
    """A part the workload or ensemble puts into the pod itself."""
    return Part(key, label if label is not None else repr(key), why=why)


def written(key: Hashable, loc: Loc, value: Any = None, label: str | None = None) -> Part:
    """A part a user wrote at `loc` (`value`: what is there, when it is not the key itself)."""
    return Part(key, label if label is not None else repr(key), loc, key if value is None else value)


def port_label(number: int, protocol: str) -> str:
    return f"port {number}/{protocol}"


def own_ports(
    ports: Iterable[ContainerPort], whose: str, when: Mapping[str, str] | None = None
) -> tuple[list[Part], list[Part]]:
    """The port names and the ports (number, protocol) the pod's owner declares: `whose` ports,
    `when` naming, by port name, the field that adds a port."""
    names, numbers = [], []
    for p in ports:
        condition = f", with {when[p.name]}" if when and p.name in when else ""
        label = port_label(p.container_port, p.protocol)
        names.append(own(p.name, f"{whose} port {p.name!r}, {p.container_port}/{p.protocol}{condition}"))
        numbers.append(own((p.container_port, p.protocol), f"{whose} port {p.name!r}{condition}", label))
    return names, numbers


def port_parts(ports: Iterable[ContainerPort], loc: Loc) -> tuple[list[Part], list[Part]]:
    """The port names and the ports (number, protocol) a user declared at `loc`."""
    listed = list(enumerate(ports))
    names = [written(p.name, (*loc, i, "name")) for i, p in listed]
    numbers = [
        written(
            (p.container_port, p.protocol),
            (*loc, i, "container_port"),
            p.container_port,
            port_label(p.container_port, p.protocol),
        )
        for i, p in listed
    ]
    return names, numbers


def env_parts(env: Iterable[EnvVar], loc: Loc) -> list[Part]:
    """Variables a user set, each at `<loc>.<name>` (stack config often writes them as a map). An
    error shows the name, never the value: it may be a password."""
    return [written(var.name, (*loc, var.name)) for var in env]


@dataclass
class PodContainer:
    """The parts of one container: its name, variables, ports (names, and number with protocol),
    its own mount paths, and its probes (loc, kind, probe)."""

    name: Part
    init: bool = False
    env: list[Part] = field(default_factory=list)
    port_names: list[Part] = field(default_factory=list)
    ports: list[Part] = field(default_factory=list)
    mounts: list[Part] = field(default_factory=list)
    probes: list[tuple[Loc, str, Probe]] = field(default_factory=list)

    @classmethod
    def written(cls, container: Container, loc: Loc, *, init: bool = False) -> PodContainer:
        """A sidecar or init container as its user wrote it at `loc`."""
        port_names, ports = port_parts(container.ports, (*loc, "ports"))
        return cls(
            name=written(container.name, (*loc, "name")),
            init=init,
            env=env_parts(container.env, (*loc, "env")),
            port_names=port_names,
            ports=ports,
            mounts=[
                written(m.mount_path, (*loc, "volume_mounts", i, "mount_path"))
                for i, m in enumerate(container.volume_mounts)
            ],
            probes=[((*loc, kind), kind, probe) for kind in PROBES if (probe := getattr(container, kind)) is not None],
        )


@dataclass
class PodParts:
    """A pod as its rules see it: containers (the main one first), volumes (claims included), and
    the mount paths every container has (claims, config files). `owner` is who sets the parts
    without a loc ("the ensemble", "the workload")."""

    owner: str
    containers: list[PodContainer]
    volumes: list[Part] = field(default_factory=list)
    shared_mounts: list[Part] = field(default_factory=list)

    def with_additions(self, options: WorkloadOptions, env_field: str | None = None) -> PodParts:
        """This pod plus what a user adds to any workload's pod: `env_field`'s variables and
        extra_volume_mounts in the main container, extra_volumes, sidecars and init containers."""
        main, *others = self.containers
        env = env_parts(getattr(options, env_field), (env_field,)) if env_field else []
        mounts = [
            written(m.mount_path, ("extra_volume_mounts", i, "mount_path"))
            for i, m in enumerate(options.extra_volume_mounts)
        ]
        sidecars = [PodContainer.written(c, ("sidecars", i)) for i, c in enumerate(options.sidecars)]
        inits = [
            PodContainer.written(c, ("init_containers", i), init=True) for i, c in enumerate(options.init_containers)
        ]
        volumes = [written(v.name, ("extra_volumes", i, "name")) for i, v in enumerate(options.extra_volumes)]
        return PodParts(
            owner=self.owner,
            containers=[
                replace(main, env=[*main.env, *env], mounts=[*main.mounts, *mounts]),
                *others,
                *sidecars,
                *inits,
            ],
            volumes=[*self.volumes, *volumes],
            shared_mounts=self.shared_mounts,
        )


def check_pod(pod: PodParts, title: str) -> None:
    """Raise one ValidationError listing every part a user wrote that clashes with the pod's own
    or with another they wrote (at the later one's field), and every probe that names no port."""
    problems: dict[Loc, tuple[Loc, Any, str]] = {}

    def unique(parts: Iterable[Part], rule: str) -> None:
        seen: dict[Hashable, Part] = {}
        for part in parts:
            first = seen.setdefault(part.key, part)
            if first is part or not part.loc or part.loc in problems:
                continue
            if not first.loc:
                clash = f"is set by {pod.owner} itself ({first.why})"
            elif first.loc == part.loc:
                clash = f"is given twice in {field_path(part.loc[:-1])}"
            else:
                clash = f"is also {field_path(first.loc)}"
            problems[part.loc] = (part.loc, part.value, f"{part.label} {clash}; {rule}")

    running = [c for c in pod.containers if not c.init]
    unique([c.name for c in pod.containers], "container names must be unique in a pod")
    unique([p for c in running for p in c.port_names], "port names must be unique in a pod")
    unique(
        [p for c in running for p in c.ports],
        "the containers of a pod share its network, so a port may be declared once",
    )
    unique(pod.volumes, "volume names must be unique in a pod")
    for container in pod.containers:
        unique(container.env, "a variable is set once per container")
        unique(
            [*pod.shared_mounts, *container.mounts],
            "a mount path holds one volume per container (the claims and config files are in every container)",
        )
    declared = sorted({str(p.key) for c in running for p in c.port_names})
    for container in running:
        for loc, kind, probe in container.probes:
            ref = probe.port_reference()
            if isinstance(ref, str) and ref not in declared:
                at = (*loc, "tcp_port") if probe.tcp_port is not None else (*loc, "http_get", "port")
                problems.setdefault(at, (at, ref, f"{ref!r} is not a declared port name of the pod ({declared})"))
            if kind != "readiness_probe" and probe.success_threshold != 1:
                at = (*loc, "success_threshold")
                message = f"success_threshold={probe.success_threshold}: Kubernetes requires 1 for {kind}"
                problems.setdefault(at, (at, probe.success_threshold, message))
    if problems:
        raise refusal(title, list(problems.values()))
