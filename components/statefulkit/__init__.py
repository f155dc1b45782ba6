"""statefulkit: Pulumi components for stateful ensembles on Kubernetes."""

__version__ = "0.2.0"  # the one version source (pyproject reads it)

import warnings
from typing import Any

from statefulkit.args.parts import (
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
from statefulkit.args.redis import RedisArgs, SentinelSettings
from statefulkit.args.workload import StatefulWorkloadArgs
from statefulkit.args.zookeeper import ZooKeeperArgs
from statefulkit.redis import RedisEnsemble
from statefulkit.storage import new_storage_class
from statefulkit.workload import StatefulWorkload
from statefulkit.zookeeper import ZooKeeperEnsemble

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
        warnings.warn(f"statefulkit.{name} is deprecated: use {RENAMED[name]}", DeprecationWarning, stacklevel=2)
        return globals()[RENAMED[name]]
    raise AttributeError(f"module 'statefulkit' has no attribute {name!r}")
