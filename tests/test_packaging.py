"""`pip install .` must give `import components`, typed (py.typed shipped)."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_ships_the_typed_components_package(tmp_path: Path) -> None:
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
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "components/py.typed" in names
    assert {"components/__init__.py", "components/workload.py", "components/args/workload.py"} <= names
    assert not any(name.startswith("tests/") for name in names)
    scripts = {f"components/render/scripts/{p.name}" for p in (source / "components/render/scripts").glob("*.sh")}
    assert len(scripts) == 9 and scripts <= names, sorted(scripts - names)
