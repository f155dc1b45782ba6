"""statefulkit inside a larger stack: the ensembles are built on Outputs of other resources.

The program owns a Namespace (named by Pulumi, so its name exists only as an Output) and the Redis
password Secret; both ensembles take those Outputs, and a client Deployment reads what the
ensembles export. Nothing here repeats a name by hand, so every object follows the Namespace.

    pulumi config set --secret redis_password <value>
    pulumi up
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from statefulkit import RedisEnsemble, ZooKeeperEnsemble

config = pulumi.Config()
RESTRICTED = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")}
PASSWORD_KEY = "password"  # noqa: S105 - the key inside the Secret, not a password

# A Namespace enforcing the restricted Pod Security Standard; Pulumi picks its name (shop-<suffix>).
# Deleting a namespace deletes its PersistentVolumeClaims whatever their retention policy, so
# `pulumi destroy` leaves it, and with it the ensembles' data (delete it yourself when done).
namespace = k8s.core.v1.Namespace(
    "shop", metadata={"labels": RESTRICTED}, opts=pulumi.ResourceOptions(retain_on_delete=True)
)
ns = namespace.metadata.apply(lambda meta: str(meta.name))

# The password lives in a Secret this stack owns; only its name and key travel further.
password_secret = k8s.core.v1.Secret(
    "redis-password",
    metadata={"namespace": ns},
    type="Opaque",
    string_data={PASSWORD_KEY: config.require_secret("redis_password")},
    opts=pulumi.ResourceOptions(additional_secret_outputs=["data", "stringData"]),
)
secret_name = password_secret.metadata.apply(lambda meta: str(meta.name))

zookeeper = ZooKeeperEnsemble("zk", {"namespace": ns, "replicas": 3, "storage_size": "1Gi"})
redis = RedisEnsemble(
    "cache",
    {
        "namespace": ns,
        "existing_secret": {"name": secret_name, "key": PASSWORD_KEY},
        "storage_size": "1Gi",
        "maxmemory": "256mb",
        "maxmemory_policy": "allkeys-lru",
    },
)

# The client: connection details from the ensembles' Outputs, the password from the Secret.
labels = {"app.kubernetes.io/name": "shop", "app.kubernetes.io/component": "client"}
client_container: k8s.core.v1.ContainerArgsDict = {
    "name": "client",
    "image": config.get("client_image") or "busybox:1.37",
    "command": [
        "sh",
        "-c",
        'echo "zookeeper: $ZK_CONNECT"; echo "sentinels: $REDIS_SENTINELS ($REDIS_MASTER_NAME)"; exec sleep 2147483647',
    ],
    "env": [
        {"name": "ZK_CONNECT", "value": zookeeper.connect_string},
        {"name": "REDIS_SENTINELS", "value": redis.sentinel_addresses.apply(",".join)},
        {"name": "REDIS_MASTER_NAME", "value": redis.master_name},
        {"name": "REDIS_PASSWORD", "value_from": {"secret_key_ref": {"name": secret_name, "key": PASSWORD_KEY}}},
    ],
    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "32Mi"}},
    # The container half of the restricted Pod Security Standard.
    "security_context": {
        "allow_privilege_escalation": False,
        "read_only_root_filesystem": True,
        "capabilities": {"drop": ["ALL"]},
    },
}
client = k8s.apps.v1.Deployment(
    "shop-client",
    metadata={"namespace": ns, "labels": labels},
    spec={
        "replicas": 1,
        "selector": {"match_labels": labels},
        "template": {
            "metadata": {"labels": labels},
            "spec": {
                "automount_service_account_token": False,
                # The pod half: non-root, RuntimeDefault seccomp.
                "security_context": {
                    "run_as_non_root": True,
                    "run_as_user": 65532,
                    "run_as_group": 65532,
                    "seccomp_profile": {"type": "RuntimeDefault"},
                },
                "containers": [client_container],
            },
        },
    },
    # Start the client once both ensembles are up (their StatefulSets wait for Ready pods).
    opts=pulumi.ResourceOptions(depends_on=[zookeeper, redis]),
)

pulumi.export("namespace", ns)
pulumi.export("zookeeper_connect_string", zookeeper.connect_string)
pulumi.export("redis_sentinel_addresses", redis.sentinel_addresses)
pulumi.export("redis_master_name", redis.master_name)
pulumi.export("redis_password_secret", secret_name)
pulumi.export("client_deployment", client.metadata.apply(lambda meta: str(meta.name)))
