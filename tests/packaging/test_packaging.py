"""`pip install statefulkit` as a user does it: the wheel ships the typed `statefulkit` package (and no
top-level `components`), its dependencies resolve from the package index, and a user's own project,
with a `components/` folder of its own, gets the test harness and its pytest fixture."""

import email
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import statefulkit

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "components" / "statefulkit"


def build_wheel(tmp_path: Path) -> Path:
    # Build from a copy so setuptools leaves no build/ or egg-info in the checkout.
    source = tmp_path / "src"
    shutil.copytree(ROOT / "components", source / "components", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheels), str(source)],
        check=True,
    )
    (wheel,) = wheels.glob("statefulkit-*.whl")
    return wheel


def test_the_wheel_ships_statefulkit_and_nothing_named_components(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    archive = zipfile.ZipFile(wheel)
    names = set(archive.namelist())
    top_level = {name.split("/")[0] for name in names}
    assert top_level == {"statefulkit", f"statefulkit-{statefulkit.__version__}.dist-info"}, sorted(top_level)
    assert {"statefulkit/py.typed", "statefulkit/__init__.py", "statefulkit/args/workload.py"} <= names
    scripts = {f"statefulkit/render/scripts/{p.name}" for p in (PACKAGE / "render/scripts").glob("*.sh")}
    assert len(scripts) >= 13 and scripts <= names, sorted(scripts - names)  # 13: with the backup scripts
    info = f"statefulkit-{statefulkit.__version__}.dist-info"
    entry_points = archive.read(f"{info}/entry_points.txt").decode()
    assert "[pytest11]\nstatefulkit = statefulkit.testing.pytest_plugin" in entry_points, entry_points
    metadata = email.message_from_bytes(archive.read(f"{info}/METADATA"))
    assert metadata["Version"] == statefulkit.__version__ == "0.2.0"


USER_COMPONENTS = '''"""The user's own components package: the folder name many Pulumi projects use."""

GREETING = "the user's own components"
'''

USER_TEST = """
import pulumi_kubernetes as k8s
import statefulkit
from statefulkit.testing import MockRunner

from components import GREETING


def test_a_users_program(pulumi_mocks: MockRunner) -> None:
    d = pulumi_mocks.run(lambda: {"name": k8s.core.v1.ConfigMap("settings").metadata.name})
    assert d.outputs["name"].startswith("settings-")
    assert d.one(kind="ConfigMap").namespace == "default"
    assert GREETING == "the user's own components"
    assert statefulkit.ZooKeeperEnsemble.__name__ == "ZooKeeperEnsemble"
"""


def test_a_user_project_with_its_own_components_folder_installs_and_tests(tmp_path: Path) -> None:
    """A fresh venv, `pip install` of the wheel with its dependencies from the index (held at this
    repository's pins), then `python -m pytest` in a project that has a `components/` package of its
    own: the plugin loads from the entry point, the fixture runs, and neither name shadows the other."""
    wheel = build_wheel(tmp_path)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    pins = tmp_path / "pins.txt"
    pins.write_text(
        "".join(
            line + "\n"
            for line in [*(ROOT / "requirements.txt").read_text().splitlines(), "pytest==9.2.0"]
            if "==" in line and not line.startswith("#")
        )
    )
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-c", str(pins), str(wheel)],
        check=True,
        timeout=900,
    )
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-c", str(pins), "pytest"],
        check=True,
        timeout=300,
    )
    user = tmp_path / "user"
    (user / "components").mkdir(parents=True)
    (user / "components" / "__init__.py").write_text(USER_COMPONENTS)
    (user / "test_user.py").write_text(USER_TEST)
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_user.py"],
        cwd=user,
        check=False,
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout  # the fixture ran the test as a preview and as an update
    where = subprocess.run(
        [python, "-c", "import statefulkit.testing as t, components as c; print(t.__file__); print(c.__file__)"],
        cwd=user,
        check=True,
        capture_output=True,
        text=True,
        env=environment,
    ).stdout.split()
    assert "site-packages" in where[0] and where[1] == str(user / "components" / "__init__.py"), where
    # Outside the user's project nothing called `components` is importable: the wheel brought none.
    elsewhere = subprocess.run(
        [python, "-c", "import components"], cwd=tmp_path, check=False, capture_output=True, text=True
    )
    assert "No module named 'components'" in elsewhere.stderr, elsewhere.stderr
