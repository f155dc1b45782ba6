"""statefulkit: Pulumi components for stateful ensembles on Kubernetes."""

import warnings
from typing import Any

from components.args.parts import (
    AntiAffinity,
    ClientService,
    Container,
    ContainerPort,
    DisruptionBudget,
    EnvVar,
    HttpGet,
    KeyRef,
    OnDelete,
    PodManagementPolicy,
    Probe,
    PvcRetentionPolicy,
    Resources,
    RollingUpdate,
    StorageClassArgs,
    Toleration,
    VolumeClaim,
)
from components.args.redis import RedisArgs, SentinelSettings
from components.args.workload import StatefulWorkloadArgs
from components.args.zookeeper import ZooKeeperArgs
from components.redis import RedisEnsemble
from components.storage import new_storage_class
from components.workload import StatefulWorkload
from components.zookeeper import ZooKeeperEnsemble

__all__ = [
    "AntiAffinity",
    "ClientService",
    "Container",
    "ContainerPort",
    "DisruptionBudget",
    "EnvVar",
    "HttpGet",
    "KeyRef",
    "OnDelete",
    "PodManagementPolicy",
    "Probe",
    "PvcRetentionPolicy",
    "RedisArgs",
    "RedisEnsemble",
    "Resources",
    "RollingUpdate",
    "SentinelSettings",
    "StatefulWorkload",
    "StatefulWorkloadArgs",
    "StorageClassArgs",
    "Toleration",
    "VolumeClaim",
    "ZooKeeperArgs",
    "ZooKeeperEnsemble",
    "new_storage_class",
]

# Old public names, still importable, with a DeprecationWarning naming the new one.
RENAMED = {"StorageClassSpec": "StorageClassArgs"}


def __getattr__(name: str) -> Any:
    if name in RENAMED:
        warnings.warn(f"components.{name} is deprecated: use {RENAMED[name]}", DeprecationWarning, stacklevel=2)
        return globals()[RENAMED[name]]
    raise AttributeError(f"module 'components' has no attribute {name!r}")
