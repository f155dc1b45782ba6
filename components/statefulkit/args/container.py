"""A container of a workload's pods: ports, variables, probes, resources, and the Service over its ports."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from statefulkit.args.common import (
    DnsLabel,
    NameInput,
    PortName,
    PortNumber,
    Quantity,
    StrictModel,
    parse_quantity,
)
from statefulkit.args.extensions import VolumeMount

_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


class ContainerPort(StrictModel):
    name: PortName = Field(description="IANA_SVC_NAME, at most 15 characters. Required.")
    container_port: PortNumber = Field(description="Port the process listens on. Required.")
    protocol: Literal["TCP", "UDP", "SCTP"] = Field("TCP", description="Default TCP.")
    reachable_by: Literal["clients", "peers", "metrics", "pod"] = Field(
        "clients",
        description="Who the NetworkPolicy lets in: clients (and the members), only the members (peers), "
        "the metrics sources, or nobody from outside the pod. Default clients.",
    )


def _from_mapping(value_field: str) -> BeforeValidator:
    """Stack config is friendlier as {name: value}; the list form keeps full control."""

    def convert(value: Any) -> Any:
        if isinstance(value, dict):
            return [{"name": k, value_field: v} for k, v in value.items()]
        return value

    return BeforeValidator(convert)


Ports = Annotated[list[ContainerPort], _from_mapping("container_port")]


class KeyRef(StrictModel):
    name: NameInput = Field(description="Secret or ConfigMap name (str or Output[str]). Required.")
    key: str = Field(min_length=1, description="Key inside it. Required.")


class EnvVar(StrictModel):
    """An environment variable: exactly one of value, secret_key_ref, config_map_key_ref, field_path."""

    name: str = Field(pattern=_ENV_NAME.pattern, description="Variable name. Required.")
    value: str | None = None
    secret_key_ref: KeyRef | None = None
    config_map_key_ref: KeyRef | None = None
    field_path: str | None = Field(None, description="Downward API field, e.g. metadata.name.")

    @model_validator(mode="after")
    def _one_source(self) -> EnvVar:
        sources = [self.value, self.secret_key_ref, self.config_map_key_ref, self.field_path]
        if sum(s is not None for s in sources) != 1:
            raise ValueError(
                f"env {self.name!r}: set exactly one of value, secret_key_ref, config_map_key_ref, field_path"
            )
        return self


EnvList = Annotated[list[EnvVar], _from_mapping("value")]


class HttpGet(StrictModel):
    path: str = Field("/", description="Default '/'.")
    port: PortNumber | PortName = Field(description="Port number or declared port name. Required.")
    scheme: Literal["HTTP", "HTTPS"] = Field("HTTP", description="Default HTTP.")


class Probe(StrictModel):
    """A probe with exactly one handler: exec_command, tcp_port or http_get."""

    exec_command: list[str] | None = Field(None, min_length=1, description="Command run in the container.")
    tcp_port: PortNumber | PortName | None = Field(None, description="Port number or declared port name.")
    http_get: HttpGet | None = None
    initial_delay_seconds: int = Field(0, ge=0, description="Default 0.")
    period_seconds: int = Field(10, ge=1, description="Default 10.")
    timeout_seconds: int = Field(1, ge=1, description="Default 1.")
    failure_threshold: int = Field(3, ge=1, description="Default 3.")
    success_threshold: int = Field(1, ge=1, description="Default 1 (must be 1 for liveness and startup).")

    @model_validator(mode="after")
    def _one_handler(self) -> Probe:
        handlers = [self.exec_command, self.tcp_port, self.http_get]
        if sum(h is not None for h in handlers) != 1:
            raise ValueError("set exactly one of exec_command, tcp_port, http_get")
        return self

    def port_reference(self) -> int | str | None:
        if self.tcp_port is not None:
            return self.tcp_port
        return self.http_get.port if self.http_get is not None else None


class Resources(StrictModel):
    requests: dict[str, Quantity] = Field(default_factory=dict, description="Default {}.")
    limits: dict[str, Quantity] = Field(default_factory=dict, description="Default {}.")

    @model_validator(mode="after")
    def _requests_within_limits(self) -> Resources:
        for key, request in self.requests.items():
            limit = self.limits.get(key)
            if limit is not None and parse_quantity(request) > parse_quantity(limit):
                raise ValueError(
                    f"requests.{key}={request!r} exceeds limits.{key}={limit!r}; a request must fit its limit"
                )
        return self


class Container(StrictModel):
    """A sidecar (a second process in every pod; Redis runs Sentinel this way) or an init container."""

    name: DnsLabel = Field(description="Container name. Required.")
    image: str | None = Field(None, min_length=1, description="Default: the workload's image.")
    command: list[str] = Field(default_factory=list, description="Default []: the image's entrypoint.")
    args: list[str] = Field(default_factory=list, description="Default [].")
    env: EnvList = Field(default_factory=list, description="Default [].")
    ports: Ports = Field(default_factory=list, description="Default [].")
    resources: Resources | None = None
    readiness_probe: Probe | None = None
    liveness_probe: Probe | None = None
    startup_probe: Probe | None = None
    pre_stop: list[str] | None = Field(
        None,
        min_length=1,
        description="Command run in the container before it is stopped (its time counts against the grace "
        "period). Default unset.",
    )
    volume_mounts: list[VolumeMount] = Field(
        default_factory=list, description="Mounts of extra volumes, beyond the claims and config. Default []."
    )


class ClientService(StrictModel):
    """A ClusterIP (or other) Service named like the workload, for clients that want any member."""

    port_names: list[PortName] = Field(default_factory=list, description="Ports to expose. Default []: all.")
    type: Literal["ClusterIP", "NodePort", "LoadBalancer"] = Field("ClusterIP", description="Default ClusterIP.")
    annotations: dict[str, str] = Field(default_factory=dict, description="Default {}.")
