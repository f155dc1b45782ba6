"""The statefulkit Pulumi program: a ZooKeeper ensemble and a Redis ensemble per stack.

Stack config (stacks/Pulumi.<env>.yaml; every key declared in Pulumi.yaml), under `statefulkit:`:
  namespace             namespace of both ensembles
  create_namespace      create it, labelled for restricted Pod Security enforcement (default true)
  retain_namespace      leave the created namespace, and so the PVCs, on `pulumi destroy` (default true)
  create_storage_class  StorageClassArgs keys of a StorageClass created for both ({}: none)
  zookeeper             ZooKeeperArgs keys (snake_case, as in the model), without namespace
  redis                 RedisArgs keys, without namespace and password
  redis_password        secret: pulumi config set --secret statefulkit:redis_password ...
Everything is validated before anything is registered; a bad value fails with the config key
path, the value and the rule (`statefulkit:zookeeper.replicas: 4: ...`). The program uses only
the package's public API (`statefulkit`, `statefulkit.stack_config`), as a user's program would.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from statefulkit import ENSEMBLES, RedisArgs, StorageClassArgs, ZooKeeperArgs, new_storage_class
from statefulkit.stack_config import StackConfig

PROJECT = "statefulkit"
RESTRICTED = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")}
# Either key may name or create the class a block's claims use; then the stack's class is not forced on it.
STORAGE_KEYS = {"storage_class_name", "create_storage_class", "storage_class"}

config = pulumi.Config()
stack_config = StackConfig()  # every key is checked; check() then reports all problems at once
namespace: str = stack_config.namespace(f"{PROJECT}:namespace", config.require("namespace"))
storage_class_block = config.get_object("create_storage_class") or None  # {} (the default): none created
if config.get_object("storage_class"):
    pulumi.log.warn(f"{PROJECT}:storage_class is deprecated: rename it to {PROJECT}:create_storage_class")
    storage_class_block = storage_class_block or config.get_object("storage_class")
storage_class: StorageClassArgs | None = (
    stack_config.validate(f"{PROJECT}:create_storage_class", StorageClassArgs, storage_class_block)
    if storage_class_block
    else None
)
zookeeper_block = config.require_object("zookeeper")
redis_block = config.require_object("redis")
if storage_class is not None:
    # The created class is the default of both blocks' claims.
    defaults = {"storage_class_name": storage_class.name}
    if isinstance(zookeeper_block, dict) and not STORAGE_KEYS & set(zookeeper_block):
        zookeeper_block = {**zookeeper_block, **defaults}
    if isinstance(redis_block, dict) and not STORAGE_KEYS & set(redis_block):
        redis_block = {**redis_block, **defaults}
# An invalid namespace is already reported; "default" stands in so the blocks are still checked.
namespace_from = (namespace or "default", f"it comes from {PROJECT}:namespace")
password_from = (
    config.require_secret("redis_password"),
    f"it comes from the secret {PROJECT}:redis_password (pulumi config set --secret ...)",
)
zookeeper_args: ZooKeeperArgs = stack_config.validate(
    f"{PROJECT}:zookeeper", ZooKeeperArgs, zookeeper_block, {"namespace": namespace_from}
)
redis_args: RedisArgs = stack_config.validate(
    f"{PROJECT}:redis", RedisArgs, redis_block, {"namespace": namespace_from, "password": password_from}
)
stack_config.check()

# Validated: now register. The namespace's Output name makes every child wait for the Namespace.
namespace_name: str | pulumi.Output[str] = namespace
if config.get_bool("create_namespace", True):
    # Deleting a namespace deletes its PVCs whatever their retention policy says, so by default
    # `pulumi destroy` leaves it (and the data) in the cluster.
    created = k8s.core.v1.Namespace(
        namespace,
        metadata={"name": namespace, "labels": RESTRICTED},
        opts=pulumi.ResourceOptions(retain_on_delete=config.get_bool("retain_namespace", True)),
    )
    namespace_name = created.metadata.apply(lambda meta: str(meta.name))
depends_on: list[pulumi.Resource] = []
if storage_class is not None:
    storage = new_storage_class(storage_class.name, storage_class, labels={"app.kubernetes.io/part-of": PROJECT})
    depends_on.append(storage)
    pulumi.export("storage_class", storage.metadata.apply(lambda meta: str(meta.name)))
ensemble_opts = pulumi.ResourceOptions(depends_on=depends_on)
validated = {"zookeeper": zookeeper_args, "redis": redis_args}
deployed = {
    key: ENSEMBLES[key](key, args.model_copy(update={"namespace": namespace_name}), opts=ensemble_opts)
    for key, args in validated.items()
}

pulumi.export("namespace", namespace_name)
for key, ensemble in deployed.items():
    for suffix, output in ensemble.exports:
        pulumi.export(f"{key}_{suffix}", getattr(ensemble, output))
