"""The statefulkit Pulumi program: a ZooKeeper ensemble and a Redis ensemble per stack.

Stack config (stacks/Pulumi.<env>.yaml; every key declared in Pulumi.yaml), under `statefulkit:`:
  namespace         namespace of both ensembles
  create_namespace  create it, labelled for restricted Pod Security enforcement (default true)
  retain_namespace  leave the created namespace, and so the PVCs, on `pulumi destroy` (default true)
  storage_class     StorageClassSpec keys of a StorageClass created for both ({}: none)
  zookeeper         ZooKeeperArgs keys (snake_case, as in the model), without namespace
  redis             RedisArgs keys, without namespace and password
  redis_password    secret: pulumi config set --secret statefulkit:redis_password ...
Everything is validated before anything is registered; a bad value fails with the config key
path, the value and the rule (`statefulkit:zookeeper.replicas: 4: ...`).
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components import RedisArgs, RedisEnsemble, StorageClassSpec, ZooKeeperArgs, ZooKeeperEnsemble
from components.render.workload import render_storage_class
from components.spec.common import DnsLabel
from components.stack_config import StackConfig
from components.workload import STORAGECLASS_IMMUTABLE, manifest_kwargs

PROJECT = "statefulkit"
RESTRICTED = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")}

config = pulumi.Config()
stack_config = StackConfig()  # every key is checked; check() then reports all problems at once
namespace: str = stack_config.validate(f"{PROJECT}:namespace", DnsLabel, config.require("namespace"))
storage_class = config.get_object("storage_class") or None  # {} (the default): none created
storage_spec: StorageClassSpec | None = (
    stack_config.validate(f"{PROJECT}:storage_class", StorageClassSpec, storage_class) if storage_class else None
)
zookeeper_block = config.require_object("zookeeper")
redis_block = config.require_object("redis")
if storage_spec is not None and isinstance(zookeeper_block, dict) and isinstance(redis_block, dict):
    # The created class is the default of both; a block may still name (or create) another one.
    if not {"storage_class", "storage_class_name"} & set(zookeeper_block):
        zookeeper_block = {**zookeeper_block, "storage_class_name": storage_spec.name}
    redis_block = {"storage_class": storage_spec.name, **redis_block}
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
if storage_spec is not None:
    storage = k8s.storage.v1.StorageClass(
        storage_spec.name,
        **manifest_kwargs(render_storage_class(storage_spec, {"app.kubernetes.io/part-of": PROJECT})),
        opts=pulumi.ResourceOptions(replace_on_changes=STORAGECLASS_IMMUTABLE, delete_before_replace=True),
    )
    depends_on.append(storage)
    pulumi.export("storage_class", storage.metadata.apply(lambda meta: str(meta.name)))
ensemble_opts = pulumi.ResourceOptions(depends_on=depends_on)
zookeeper = ZooKeeperEnsemble(
    "zookeeper", zookeeper_args.model_copy(update={"namespace": namespace_name}), opts=ensemble_opts
)
redis = RedisEnsemble("redis", redis_args.model_copy(update={"namespace": namespace_name}), opts=ensemble_opts)

pulumi.export("namespace", namespace_name)
pulumi.export("zookeeper_connect_string", zookeeper.connect_string)
pulumi.export("zookeeper_client_service", zookeeper.client_service_name)
pulumi.export("zookeeper_headless_service", zookeeper.workload.headless_service.metadata.name)
pulumi.export("redis_sentinel_addresses", redis.sentinel_addresses)
pulumi.export("redis_master_name", redis.master_name)
pulumi.export("redis_sentinel_service", redis.sentinel_service_name)
pulumi.export("redis_headless_service", redis.headless_service_name)
pulumi.export("redis_password_secret", redis.password_secret_name)  # the Secret's name; the password stays in it
