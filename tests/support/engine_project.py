"""A Pulumi project deployed through the real engine (tools/engine.py) in a scratch directory.

The project file and stack file are copies (the engine writes encrypted secrets and a salt into a
stack file, which must never touch the repo's own), the program is a link to the project's own
`__main__.py`, the state goes to the test's file backend and the objects to the local cluster.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi.automation as auto
import yaml

from tests.support.local_cluster import REAL_NODE_PLACEMENT, LocalCluster
from tests.support.tokens import NS
from tools import engine
from tools.project import project_settings, stack_file

# The passphrase of the secrets of every stack the engine tests create (in their own backend).
TEST_PASSPHRASE = "statefulkit-tests"  # noqa: S105 - a test-only passphrase


def small_ensembles(namespace: str) -> dict[str, Any]:
    """Stack config with three ZooKeeper members and three Redis pods, sized for the local
    cluster's 1Gi volumes."""
    return {
        "statefulkit:namespace": namespace,
        "statefulkit:zookeeper": {
            "replicas": 3,
            "storage_size": "1Gi",
            "heap": "128Mi",
            "resources": {"requests": {"cpu": "50m", "memory": "256Mi"}, "limits": {"memory": "256Mi"}},
        },
        "statefulkit:redis": {
            "replicas": 3,
            "storage_size": "1Gi",
            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
        },
    }


def real_pod_ensembles(namespace: str, images: dict[str, str]) -> dict[str, Any]:
    """`small_ensembles` on the real nodes: the images made from Debian's packages (never pulled),
    and the placement that lets a pod onto a real node (its label and taint)."""
    config = small_ensembles(namespace)
    for kind in ("zookeeper", "redis"):
        config[f"statefulkit:{kind}"].update(
            image=images[kind],
            image_pull_policy="Never",
            node_selector=REAL_NODE_PLACEMENT["nodeSelector"],
            tolerations=REAL_NODE_PLACEMENT["tolerations"],  # the same keys in ZooKeeperArgs and RedisArgs
        )
    return config


@dataclass
class EngineRun:
    """What one engine operation printed (the same text `make up` streams)."""

    lines: list[str] = field(default_factory=list)

    def __call__(self, line: str) -> None:
        self.lines.append(line.rstrip("\n"))
        print(line.rstrip("\n"))  # shown by pytest when a test fails

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass
class Project:
    directory: Path
    runner: engine.Engine
    stack_name: str

    @classmethod
    def copy(cls, source: Path, scratch: Path, runner: engine.Engine, stack: str, config: dict[str, Any]) -> Project:
        """A copy of the project in `source` with one stack whose config is `config` (values as a
        stack file holds them, keys with their namespace)."""
        scratch.mkdir(parents=True, exist_ok=True)
        shutil.copy(source / "Pulumi.yaml", scratch / "Pulumi.yaml")
        (scratch / "__main__.py").symlink_to(source / "__main__.py")
        project = cls(scratch, runner, stack)
        project.stack_file.parent.mkdir(parents=True, exist_ok=True)
        project.stack_file.write_text(yaml.safe_dump({"config": config}, sort_keys=False))
        return project

    @property
    def stack_file(self) -> Path:
        return stack_file(self.directory, self.stack_name)

    def stack(self, out: engine.Print = print) -> auto.Stack:
        return self.runner.stack(self.directory, self.stack_name, out)

    def set_secret(self, key: str, value: str) -> None:
        """`pulumi config set --secret key value`: encrypted into the stack file."""
        self.stack().set_config(key, auto.ConfigValue(value, secret=True))

    @property
    def config(self) -> dict[str, Any]:
        loaded: dict[str, Any] = yaml.safe_load(self.stack_file.read_text())["config"]
        return loaded

    @property
    def namespace(self) -> str:
        """The namespace the stack deploys into (`statefulkit:namespace`)."""
        return str(self.config["statefulkit:namespace"])

    @contextmanager
    def editing(self) -> Iterator[dict[str, Any]]:
        """Edit the stack file's config as a user edits the YAML (secrets and salt kept)."""
        document = yaml.safe_load(self.stack_file.read_text())
        yield document["config"]
        self.stack_file.write_text(yaml.safe_dump(document, sort_keys=False))

    def up(self) -> tuple[dict[str, int], EngineRun]:
        printed = EngineRun()
        return engine.up(self.stack(printed), printed), printed

    def outputs(self) -> dict[str, Any]:
        """The stack outputs (`pulumi stack output`), secrets in the clear."""
        return {key: value.value for key, value in self.stack().outputs().items()}

    def destroy(self, *, run_program: bool = True) -> EngineRun:
        """`pulumi destroy --run-program`, or without the program (`run_program=False`)."""
        printed = EngineRun()
        engine.destroy(self.stack(printed), printed, run_program=run_program)
        return printed

    def preview(self) -> tuple[auto.PreviewResult, EngineRun]:
        printed = EngineRun()
        return engine.preview(self.stack(), printed), printed

    def failing(self, operation: str) -> EngineRun:
        """Run `up`, `preview` or a plain `destroy` (without the program), which must fail; what it printed."""
        printed = EngineRun()

        def plain_destroy(stack: auto.Stack, out: engine.Print) -> None:
            engine.destroy(stack, out, run_program=False)

        try:
            {"up": engine.up, "preview": engine.preview, "destroy": plain_destroy}[operation](
                self.stack(printed), printed
            )
        except engine.EngineError:
            return printed
        raise AssertionError(f"{operation} succeeded:\n{printed.text}")

    def pending_operations(self) -> list[dict[str, Any]]:
        """The operations a run left in flight, read from the state file itself (a killed run may
        leave the backend unreadable to the CLI until tools/engine.py repairs it)."""
        state = json.loads(self.state_file.read_text())
        return list(state["checkpoint"]["latest"].get("pending_operations") or [])

    @property
    def state_file(self) -> Path:
        """The stack's state in the file backend."""
        path = engine.state_file(self.runner.env, str(project_settings(self.directory)["name"]), self.stack_name)
        assert path is not None, "the tests keep their state in a file backend"
        return path

    def remove(self, cluster: LocalCluster) -> None:
        """Destroy the stack, then delete the namespaces it created (retained on destroy by design)."""
        namespaces = [str(r["outputs"]["metadata"]["name"]) for r in self.resources() if r["type"] == NS]
        try:
            self.destroy()
        finally:
            for namespace in namespaces:
                cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)

    def resources(self) -> list[dict[str, Any]]:
        """The resources in the stack's state (`pulumi stack export`)."""
        deployment = self.stack().export_stack().deployment or {}
        return list(deployment.get("resources") or [])


@contextmanager
def deployed(
    runner: engine.Engine, cluster: LocalCluster, scratch: Path, stack: str, config: dict[str, Any]
) -> Iterator[Project]:
    """The project's own program deployed with `config` (and a Redis password of its own); on
    exit destroyed, and its namespace (retained by a destroy, by design) deleted."""
    project = Project.copy(engine.ROOT, scratch, runner, stack, config)
    project.set_secret("statefulkit:redis_password", f"{stack}-{uuid.uuid4().hex}")
    project.up()
    try:
        yield project
    finally:
        project.remove(cluster)
        cluster.kubectl("delete", "namespace", project.namespace, "--wait=false", check=False)
