"""The statefulkit Pulumi program: the ensembles a stack's config names, in its namespace.

Stack config (stacks/Pulumi.<env>.yaml; every key declared in Pulumi.yaml), under `statefulkit:`:
  namespace             namespace of the ensembles
  create_namespace      create it, labelled for restricted Pod Security enforcement (default true)
  retain_namespace      leave the created namespace, and so the PVCs, on `pulumi destroy` (default true)
  create_storage_class  StorageClassArgs keys of a StorageClass created for every block ({}: none)
  zookeeper             ZooKeeperArgs keys (snake_case, as in the model), without namespace; absent
                        or false: no ZooKeeper
  redis                 RedisArgs keys, without namespace and password; absent or false: no Redis
  redis_password        secret, with a redis block: pulumi config set --secret statefulkit:redis_password ...
  backup_password, backup_access_key_id, backup_secret_access_key
                        secrets, with a block's backup or restore whose repository names no
                        existing_secret: the restic repository's password and the store's keys
Everything is validated before anything is registered (statefulkit.program_config); a bad value
fails with the config key path, the value and the rule (`statefulkit:zookeeper.replicas: 4: ...`).
The program uses only the package's public API, as a user's program would.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from statefulkit import ENSEMBLES, new_storage_class
from statefulkit.program_config import read_program_config

PROJECT = "statefulkit"
RESTRICTED = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")}

stack = read_program_config(PROJECT)

# Validated: now register. The namespace's Output name makes every child wait for the Namespace.
namespace_name: str | pulumi.Output[str] = stack.namespace
if stack.create_namespace:
    # Deleting a namespace deletes its PVCs whatever their retention policy says, so by default
    # `pulumi destroy` leaves it (and the data) in the cluster.
    created = k8s.core.v1.Namespace(
        stack.namespace,
        metadata={"name": stack.namespace, "labels": RESTRICTED},
        opts=pulumi.ResourceOptions(retain_on_delete=stack.retain_namespace),
    )
    namespace_name = created.metadata.apply(lambda meta: str(meta.name))
depends_on: list[pulumi.Resource] = []
if stack.storage_class is not None:
    storage = new_storage_class(
        stack.storage_class.name, stack.storage_class, labels={"app.kubernetes.io/part-of": PROJECT}
    )
    depends_on.append(storage)
    pulumi.export("storage_class", storage.metadata.apply(lambda meta: str(meta.name)))
ensemble_opts = pulumi.ResourceOptions(depends_on=depends_on)
deployed = {
    key: ENSEMBLES[key](key, args.model_copy(update={"namespace": namespace_name}), opts=ensemble_opts)
    for key, args in stack.ensembles.items()
}

pulumi.export("namespace", namespace_name)
for key, ensemble in deployed.items():
    for suffix, output in ensemble.exports:
        if getattr(ensemble, output) is not None:  # e.g. no backup: no backup_cron_job
            pulumi.export(f"{key}_{suffix}", getattr(ensemble, output))
