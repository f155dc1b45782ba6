"""statefulkit: Pulumi components for stateful ensembles on Kubernetes."""

from components.redis import RedisEnsemble
from components.spec.redis import RedisArgs, SentinelSettings
from components.spec.workload import (
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
    StatefulWorkloadArgs,
    StorageClassSpec,
    Toleration,
    VolumeClaim,
)
from components.spec.zookeeper import ZooKeeperArgs
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
    "StorageClassSpec",
    "Toleration",
    "VolumeClaim",
    "ZooKeeperArgs",
    "ZooKeeperEnsemble",
]
