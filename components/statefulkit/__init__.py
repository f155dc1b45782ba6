"""statefulkit: Pulumi components for stateful ensembles on Kubernetes."""

import warnings
from typing import Any

from statefulkit.args.backup import BackupArgs, BackupRepository, RestoreArgs, Retention
from statefulkit.args.claims import PvcRetentionPolicy, StorageClassArgs, VolumeClaim
from statefulkit.args.container import (
    ClientService,
    Container,
    ContainerPort,
    EnvVar,
    HttpGet,
    KeyRef,
    Probe,
    Resources,
)
from statefulkit.args.ensemble import EnsembleOptions
from statefulkit.args.extensions import (
    ExtraVolume,
    NetworkPolicyArgs,
    PodMonitorArgs,
    PodSecurity,
    TopologySpread,
    TrafficSource,
    VolumeMount,
)
from statefulkit.args.options import WorkloadOptions
from statefulkit.args.placement import AntiAffinity, Toleration
from statefulkit.args.redis import RedisArgs, RedisExporter
from statefulkit.args.rollout import DisruptionBudget, OnDelete, PodManagementPolicy, RollingUpdate
from statefulkit.args.sentinel import SentinelSettings
from statefulkit.args.tls import IssuerRef, TlsArgs
from statefulkit.args.workload import StatefulWorkloadArgs
from statefulkit.args.zookeeper import ZooKeeperArgs
from statefulkit.ensemble import Ensemble
from statefulkit.redis import RedisEnsemble
from statefulkit.registry import ENSEMBLES
from statefulkit.storage import new_storage_class
from statefulkit.version import __version__
from statefulkit.workload import StatefulWorkload
from statefulkit.zookeeper import ZooKeeperEnsemble

# The public API: every name the README documents (tests/unit/test_public_api.py reads it), importable
# from here; the submodules behind it are free to change.
__all__ = [
    "ENSEMBLES",
    "AntiAffinity",
    "BackupArgs",
    "BackupRepository",
    "ClientService",
    "Container",
    "ContainerPort",
    "DisruptionBudget",
    "Ensemble",
    "EnsembleOptions",
    "EnvVar",
    "ExtraVolume",
    "HttpGet",
    "IssuerRef",
    "KeyRef",
    "NetworkPolicyArgs",
    "OnDelete",
    "PodManagementPolicy",
    "PodMonitorArgs",
    "PodSecurity",
    "Probe",
    "PvcRetentionPolicy",
    "RedisArgs",
    "RedisEnsemble",
    "RedisExporter",
    "Resources",
    "RestoreArgs",
    "Retention",
    "RollingUpdate",
    "SentinelSettings",
    "StatefulWorkload",
    "StatefulWorkloadArgs",
    "StorageClassArgs",
    "TlsArgs",
    "Toleration",
    "TopologySpread",
    "TrafficSource",
    "VolumeClaim",
    "VolumeMount",
    "WorkloadOptions",
    "ZooKeeperArgs",
    "ZooKeeperEnsemble",
    "__version__",
    "new_storage_class",
]

# Old public names, still importable, with a DeprecationWarning naming the new one.
RENAMED = {"StorageClassSpec": "StorageClassArgs"}


def __getattr__(name: str) -> Any:
    if name in RENAMED:
        warnings.warn(f"statefulkit.{name} is deprecated: use {RENAMED[name]}", DeprecationWarning, stacklevel=2)
        return globals()[RENAMED[name]]
    raise AttributeError(f"module 'statefulkit' has no attribute {name!r}")
