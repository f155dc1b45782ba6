"""A user's program that clones a Redis ensemble from a backup: a new namespace (restricted Pod
Security), and a RedisEnsemble under a name of its own whose first start restores a snapshot.

Config: namespace, name, redis (RedisArgs keys), restore (RestoreArgs keys; its repository without
the secrets); secrets: password (Redis), repository_password, access_key_id, secret_access_key.
"""

import pulumi
import pulumi_kubernetes as k8s

from statefulkit import RedisEnsemble

config = pulumi.Config()
restricted = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")}
namespace = k8s.core.v1.Namespace("clone", metadata={"name": config.require("namespace"), "labels": restricted})
restore = config.require_object("restore")
repository = {
    **restore["repository"],
    "password": config.require_secret("repository_password"),
    "access_key_id": config.require_secret("access_key_id"),
    "secret_access_key": config.require_secret("secret_access_key"),
}
clone = RedisEnsemble(
    config.require("name"),
    {
        **config.require_object("redis"),
        "namespace": namespace.metadata.apply(lambda meta: str(meta.name)),
        "password": config.require_secret("password"),
        "restore": {**restore, "repository": repository},
    },
)
pulumi.export("sentinel_addresses", clone.sentinel_addresses)
