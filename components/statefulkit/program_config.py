"""The statefulkit program's stack config, as one validated model.

A stack (stacks/Pulumi.<env>.yaml, keys under the project's namespace) sets the namespace, whether
to create it and keep it on destroy, an optional StorageClass, and one block per ensemble it
deploys, keyed as `statefulkit.registry.ENSEMBLES` names them; a block it leaves out (or sets to
false) is not deployed. `read_program_config` validates all of it before the program registers
anything and reports every problem at once (statefulkit.stack_config), with the config key path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from statefulkit.args.claims import StorageClassArgs
from statefulkit.args.ensemble import EnsembleOptions
from statefulkit.registry import ENSEMBLES
from statefulkit.stack_config import StackConfig

# Keys of a block that name or create the StorageClass of its claims: then the stack's created
# class is not forced on it.
STORAGE_KEYS = frozenset({"storage_class_name", "create_storage_class", "storage_class"})
# The secrets of a backup or restore repository that names no existing_secret: the block's
# repository field <- the stack's secret `backup_<field>` (one set for every block of the stack).
REPOSITORY_SECRETS = ("password", "access_key_id", "secret_access_key")


@dataclass(frozen=True)
class ProgramConfig:
    namespace: str
    create_namespace: bool
    retain_namespace: bool
    storage_class: StorageClassArgs | None
    ensembles: dict[str, EnsembleOptions]  # the blocks the stack sets, by registry key, in its order


def read_program_config(project: str) -> ProgramConfig:
    """The stack's config, validated; raises one `pulumi.RunError` listing every problem."""
    config = pulumi.Config()
    checked = StackConfig()
    namespace = checked.namespace(f"{project}:namespace", config.require("namespace"))
    storage_class = _storage_class(project, config, checked)
    # An invalid namespace is already reported; "default" stands in so the blocks are still checked.
    namespace_from = (namespace or "default", f"it comes from {project}:namespace")
    ensembles: dict[str, Any] = {}
    for key, ensemble in ENSEMBLES.items():
        block = config.get_object(key)
        if block is None or block is False:
            continue  # this stack deploys no such ensemble
        if storage_class is not None and isinstance(block, dict) and not STORAGE_KEYS & set(block):
            block = {**block, "storage_class_name": storage_class.name}  # the created class is the default
        from_program = {"namespace": namespace_from}
        if ensemble.secret_field is not None:
            from_program[ensemble.secret_field] = _secret(project, config, checked, key, ensemble.secret_field)
        if isinstance(block, dict):
            block = _with_repository_secrets(project, config, checked, key, block)
        ensembles[key] = checked.validate(f"{project}:{key}", ensemble.args_type, block, from_program)
    checked.check()
    return ProgramConfig(
        namespace=namespace,
        create_namespace=config.get_bool("create_namespace", True),
        retain_namespace=config.get_bool("retain_namespace", True),
        storage_class=storage_class,
        ensembles=ensembles,
    )


def _storage_class(project: str, config: pulumi.Config, checked: StackConfig) -> StorageClassArgs | None:
    block = config.get_object("create_storage_class") or None  # {} (the default): none created
    if config.get_object("storage_class"):
        pulumi.log.warn(f"{project}:storage_class is deprecated: rename it to {project}:create_storage_class")
        block = block or config.get_object("storage_class")
    if not block:
        return None
    validated: StorageClassArgs | None = checked.validate(f"{project}:create_storage_class", StorageClassArgs, block)
    return validated


def _secret(project: str, config: pulumi.Config, checked: StackConfig, block: str, field: str) -> tuple[Any, str]:
    """The secret `<block>_<field>` the program fills into the block's field, and why the block may
    not set it. It must be stored as a secret (the engine cannot require that of an optional key)."""
    return _stack_secret(
        project, config, checked, f"{block}_{field}", needed_by=f"a {project}:{block} block", what=field
    )


def _stack_secret(
    project: str, config: pulumi.Config, checked: StackConfig, key: str, *, needed_by: str, what: str
) -> tuple[Any, str]:
    full, how = f"{project}:{key}", f"pulumi config set --secret {project}:{key} ..."
    if config.get(key) in (None, ""):
        checked.problem(f"{full}: required with {needed_by}; set it with `{how}`")
    elif not pulumi.runtime.is_config_secret(full):
        checked.problem(f"{full}: stored in plain text, but it is a {what}: set it with `{how}`")
    return config.get_secret(key), f"it comes from the secret {full} ({how})"


def _with_repository_secrets(
    project: str, config: pulumi.Config, checked: StackConfig, key: str, block: dict[str, Any]
) -> dict[str, Any]:
    """The block with the stack's `backup_*` secrets filled into each backup or restore repository
    that names no existing_secret. A key the block writes itself is refused, never echoed."""
    filled = dict(block)
    for use in ("backup", "restore"):
        settings = block.get(use)
        if not isinstance(settings, dict) or not isinstance(settings.get("repository"), dict):
            continue
        repository = dict(settings["repository"])
        for field in REPOSITORY_SECRETS:
            if field in repository:  # reported, never echoed (it may be a key)
                del repository[field]
                checked.problem(
                    f"{project}:{key}.{use}.repository.{field}: not allowed in a stack file; it comes from the "
                    f"secret {project}:backup_{field} (pulumi config set --secret {project}:backup_{field} ...), "
                    "or from the Secret that existing_secret names"
                )
        if not repository.get("existing_secret"):
            for field in REPOSITORY_SECRETS:
                repository[field], _ = _stack_secret(
                    project,
                    config,
                    checked,
                    f"backup_{field}",
                    needed_by=f"{project}:{key}.{use}",
                    what=f"repository {field}",
                )
        filled[use] = {**settings, "repository": repository}
    return filled
