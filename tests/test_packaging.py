"""`pip install .` must give `import components`, typed (py.typed shipped), and the test harness with its
pytest fixture."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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


def test_wheel_ships_the_typed_components_package(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    source = tmp_path / "src"
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "components/py.typed" in names
    assert {"components/__init__.py", "components/workload.py", "components/args/workload.py"} <= names
    assert not any(name.startswith("tests/") for name in names)
    scripts = {f"components/render/scripts/{p.name}" for p in (source / "components/render/scripts").glob("*.sh")}
    assert len(scripts) == 9 and scripts <= names, sorted(scripts - names)
    assert "components/testing/pytest_plugin.py" in names


USER_TEST = """
import pulumi_kubernetes as k8s
from components.testing import MockRunner


def test_a_users_program(pulumi_mocks: MockRunner) -> None:
    d = pulumi_mocks.run(lambda: {"name": k8s.core.v1.ConfigMap("settings").metadata.name})
    assert d.outputs["name"].startswith("settings-")
    assert d.one(kind="ConfigMap").namespace == "default"
"""


def test_an_installed_package_gives_a_user_the_harness_and_its_fixture(tmp_path: Path) -> None:
    """A fresh venv with the wheel installed: pytest finds `pulumi_mocks` through the entry point alone.

    The dependencies come from this checkout's environment (a .pth file), so the test needs no
    index; the package itself only from the wheel (the user's directory is outside the checkout).
    """
    wheel = build_wheel(tmp_path)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    dependencies = next(p for p in map(Path, sys.path) if (p / "pulumi").is_dir() and (p / "pytest").is_dir())
    (Path(site) / "dependencies.pth").write_text(f"{dependencies}\n")
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)], check=True)
    user = tmp_path / "user"
    user.mkdir()
    (user / "test_user.py").write_text(USER_TEST)
    result = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_user.py"],
        cwd=user,
        check=False,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout  # the fixture ran the test as a preview and as an update
    where = subprocess.run(
        [python, "-c", "import components.testing as t; print(t.__file__)"],
        cwd=user,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert where.startswith(site), where
