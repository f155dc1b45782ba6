"""Upgrading a running stack from the previous release, through the real engine, as CHANGELOG.md
promises: the dev stack and examples/composition are deployed with the previous release's code
(its commit, checked out from this repository's history, run by its own tools/deploy.py), then
`pulumi up` runs with this checkout's code. The engine may replace or delete only what the
release's upgrade note names, and exactly the StatefulSets it says roll restart pods; with nothing
named, the URNs are unchanged and the update is a no-op.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import statefulkit
from tests.engine.test_engine_program import PASSWORD_KEY, small_stack
from tests.support.engine_project import TEST_PASSPHRASE, Project
from tests.support.local_cluster import LocalCluster
from tools.engine import ROOT, Engine

CHANGELOG = ROOT / "CHANGELOG.md"


@dataclass(frozen=True)
class UpgradeNote:
    """What the current release's CHANGELOG entry says an upgrade from `previous` does."""

    previous: str
    commit: str
    replaces: list[str]
    deletes: list[str]
    rolls: list[str]


def upgrade_note(text: str, version: str) -> UpgradeNote:
    sections = re.split(r"^## ", text, flags=re.MULTILINE)
    current = next(s for s in sections if s.startswith(f"{version}\n") or s.startswith(f"{version} "))
    previous = re.search(r"^### Upgrade from (\S+)$", current, flags=re.MULTILINE)
    assert previous, f"CHANGELOG.md: {version} has no '### Upgrade from <version>' note"
    released = next(s for s in sections if s.startswith(f"{previous[1]} "))
    commit = re.match(r"\S+ \(commit ([0-9a-f]{40})\)", released)
    assert commit, f"CHANGELOG.md: release {previous[1]} does not record its commit"

    def named(key: str) -> list[str]:
        line = re.search(rf"^- {key}: (.*)$", current, flags=re.MULTILINE)
        assert line, f"CHANGELOG.md: {version}'s upgrade note has no '- {key}:' line"
        value = line[1].strip()
        names = re.findall(r"`([^`]+)`", value)
        assert value == "none" or (names and value.startswith("`")), f"'- {key}: {value}': 'none' or `names`"
        return names

    return UpgradeNote(previous[1], commit[1], named("Replaces"), named("Deletes"), named("Rolls"))


def test_the_changelog_names_the_previous_release_and_what_an_upgrade_changes() -> None:
    note = upgrade_note(CHANGELOG.read_text(), statefulkit.__version__)
    assert note.previous == "0.1.0" and note.commit.startswith("67edc10")
    broken = CHANGELOG.read_text().replace("- Rolls: none", "- Rolls: sometimes", 1)
    with pytest.raises(AssertionError):
        assert upgrade_note(broken, statefulkit.__version__).rolls == []


@pytest.fixture(scope="module")
def note() -> UpgradeNote:
    return upgrade_note(CHANGELOG.read_text(), statefulkit.__version__)


@pytest.fixture(scope="module")
def previous_release(note: UpgradeNote, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The previous release's tree, from this repository's history."""
    git = ["git", "-C", str(ROOT)]
    if subprocess.run([*git, "cat-file", "-e", f"{note.commit}^{{commit}}"], check=False).returncode != 0:
        shallow = subprocess.run(
            [*git, "rev-parse", "--is-shallow-repository"], check=False, capture_output=True, text=True
        )
        if shallow.stdout.strip() == "true":
            subprocess.run([*git, "fetch", "--quiet", "--unshallow"], check=False)
    archive = tmp_path_factory.mktemp("previous") / "release.tar"
    made = subprocess.run(
        [*git, "archive", "-o", str(archive), note.commit], check=False, capture_output=True, text=True
    )
    assert made.returncode == 0, f"release {note.previous} (commit {note.commit}) is not in this clone: {made.stderr}"
    tree = archive.parent / note.previous
    with tarfile.open(archive) as release:
        release.extractall(tree, filter="data")
    return tree


def deploy_previous(tree: Path, project: Project) -> None:
    """`make up` as the previous release ran it: its own tools/deploy.py, its own package."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")} | {
        "PULUMI_BACKEND_URL": project.runner.env["PULUMI_BACKEND_URL"],
        "PULUMI_CONFIG_PASSPHRASE": TEST_PASSPHRASE,
        "KUBECONFIG": project.runner.env["KUBECONFIG"],
    }
    command = [
        sys.executable,
        "-m",
        "tools.deploy",
        "up",
        "--stack",
        project.stack_name,
        "--project",
        str(project.directory),
    ]
    run = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert run.returncode == 0, run.stdout + run.stderr


def live_objects(cluster: LocalCluster, namespace: str) -> dict[str, str]:
    """kind/name -> uid of what the stack made in `namespace` (pods apart)."""
    kinds = "statefulsets,services,configmaps,secrets,poddisruptionbudgets,networkpolicies,pvc,deployments"
    items = cluster.get(kinds, namespace=namespace)["items"]
    return {f"{o['kind']}/{o['metadata']['name']}": o["metadata"]["uid"] for o in items}


def pods(cluster: LocalCluster, namespace: str) -> dict[str, str]:
    return {p["metadata"]["name"]: p["metadata"]["uid"] for p in cluster.pods(namespace)}


def owner(pod: str) -> str:
    return pod.rsplit("-", 1)[0]


def upgrade(project: Project, new_program: Path, cluster: LocalCluster, namespace: str, note: UpgradeNote) -> None:
    """`pulumi up` with `new_program`; fails naming every change the note does not announce."""
    objects, running = live_objects(cluster, namespace), pods(cluster, namespace)
    assert running, "the previous release deployed no pods"
    (project.directory / "__main__.py").unlink()
    (project.directory / "__main__.py").symlink_to(new_program)
    changes, printed = project.up()
    after = live_objects(cluster, namespace)
    problems = []
    if changes.get("replace", 0) != len(note.replaces) or changes.get("delete", 0) != len(note.deletes):
        problems.append(f"the engine's changes {changes} against replaces {note.replaces}, deletes {note.deletes}")
    if not (note.replaces or note.deletes or note.rolls) and not set(changes) <= {"same"}:
        problems.append(f"changes {changes} where the note announces none (a URN or an input changed)")
    changed = sorted(k for k in objects if after.get(k) != objects[k])
    if changed != sorted(note.replaces + note.deletes):
        problems.append(f"objects replaced or deleted: {changed}")
    restarted = sorted({owner(p) for p, uid in pods(cluster, namespace).items() if running.get(p) != uid})
    if restarted != sorted(note.rolls):
        problems.append(f"pods of {restarted} restarted, the note names {note.rolls}")
    assert not problems, "; ".join(problems) + "\n" + printed.text


@pytest.fixture
def namespace(local_cluster: LocalCluster) -> Iterator[str]:
    name = f"sk-upgrade-{uuid.uuid4().hex[:6]}"
    yield name
    local_cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def test_the_dev_stack_upgrades_as_the_note_says(
    engine: Engine, local_cluster: LocalCluster, previous_release: Path, note: UpgradeNote, namespace: str
) -> None:
    scratch = previous_release.parent / "dev"
    project = Project.copy(previous_release, scratch, engine, "upgrade", small_stack(namespace, zookeeper=3))
    project.set_secret(PASSWORD_KEY, "Upgrade-" + uuid.uuid4().hex)
    try:
        deploy_previous(previous_release, project)
        upgrade(project, ROOT / "__main__.py", local_cluster, namespace, note)
    finally:
        project.remove(local_cluster)


def test_the_composition_example_upgrades_as_the_note_says(
    engine: Engine, local_cluster: LocalCluster, previous_release: Path, note: UpgradeNote, tmp_path: Path
) -> None:
    example = previous_release / "examples" / "composition"
    project = Project.copy(example, tmp_path, engine, "upgrade", {})
    project.set_secret("statefulkit-composition:redis_password", "Upgrade-" + uuid.uuid4().hex)
    namespace = ""
    try:
        deploy_previous(previous_release, project)
        namespace = str(project.outputs()["namespace"])
        upgrade(project, ROOT / "examples" / "composition" / "__main__.py", local_cluster, namespace, note)
    finally:
        project.remove(local_cluster)
        if namespace:
            local_cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


def test_a_change_the_note_does_not_name_fails_the_upgrade_check(
    engine: Engine, local_cluster: LocalCluster, tmp_path: Path, namespace: str, note: UpgradeNote
) -> None:
    """The check can fail: a stack whose pods roll on `up` (a pod annotation) against a note that
    names no roll."""
    project = Project.copy(ROOT, tmp_path, engine, "upgrade-check", small_stack(namespace))
    project.set_secret(PASSWORD_KEY, "Upgrade-" + uuid.uuid4().hex)
    try:
        project.up()
        with project.editing() as config:
            config["statefulkit:zookeeper"]["pod_annotations"] = {"rolled": "yes"}
        with pytest.raises(AssertionError, match=r"pods of \['zookeeper'\] restarted, the note names \[\]"):
            upgrade(project, ROOT / "__main__.py", local_cluster, namespace, note)
    finally:
        project.remove(local_cluster)
