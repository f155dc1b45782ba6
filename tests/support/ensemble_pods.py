"""The ensembles' pods as the pod-rule tests see them: the configurations that change what an
ensemble puts into its pods, and the workload args an ensemble renders."""

from __future__ import annotations

from typing import Any

from statefulkit import ENSEMBLES, RedisArgs, StatefulWorkloadArgs, ZooKeeperArgs
from statefulkit.args.ensemble import EnsembleOptions

NAME = "ens"
TLS = {"secret_name": "ens-certs"}
SECRET = {"name": "ens-auth", "key": "password"}
# Every option that changes what the ensembles put into their pods.
CONFIGS: list[tuple[type[EnsembleOptions], dict[str, Any]]] = [
    (ZooKeeperArgs, {}),
    (ZooKeeperArgs, {"tls": TLS}),
    (ZooKeeperArgs, {"tls": TLS, "plaintext_client_port": True, "data_log_storage_size": "1Gi"}),
    (ZooKeeperArgs, {"admin_server": False, "metrics": False, "data_log_storage_size": "1Gi"}),
    (RedisArgs, {"auth": False}),
    (RedisArgs, {"existing_secret": SECRET, "exporter": {}}),
    (RedisArgs, {"auth": False, "tls": TLS, "exporter": {"port": 9500}}),
]


def config_id(model: type[EnsembleOptions], fields: dict[str, Any]) -> str:
    return f"{model.__name__}({','.join(sorted(fields)) or 'defaults'})"


def workload_args(args: EnsembleOptions) -> StatefulWorkloadArgs:
    """What the registered ensemble of these args hands its workload."""
    (ensemble,) = [e for e in ENSEMBLES.values() if isinstance(args, e.args_type)]
    return ensemble.render_type(NAME, args).workload_args()


def keys(parts: Any) -> list[Any]:
    return [part.key for part in parts]
