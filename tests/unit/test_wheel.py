"""`pip wheel .` gives a wheel that runs on its own: both packages, the model, the page, the sample; no tests."""

import hashlib
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from faceanon.model import SHIPPED_MODEL, SHIPPED_VERIFIER

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    pytest.importorskip("hatchling", reason="building offline needs hatchling (the dev extra)")
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out), str(REPO)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("faceanon-*.whl")
    return zipfile.ZipFile(built)


def test_wheel_carries_the_models(wheel: zipfile.ZipFile) -> None:
    for shipped in (SHIPPED_MODEL, SHIPPED_VERIFIER):
        data = wheel.read(f"faceanon/model/{shipped.name}")
        assert hashlib.sha256(data).hexdigest() == hashlib.sha256(shipped.read_bytes()).hexdigest()


def test_wheel_holds_both_packages(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    for name in (
        "faceanon/__init__.py",
        "faceanon/service.py",
        "faceanon/model.py",
        "faceanon/cli.py",
        "faceanon/samples/astronaut.jpg",
        "faceanon_tools/__init__.py",
        "faceanon_tools/serve.py",
        "faceanon_tools/lambda_invoke.py",
        "faceanon_tools/lambda_context.py",
        "faceanon_tools/template.py",
        "faceanon_tools/evaluation.py",
        "faceanon_tools/face_free.py",
        "faceanon_tools/web/index.html",
        "faceanon_tools/web/app.js",
        "faceanon_tools/web/style.css",
    ):
        assert name in names, name
    for moved in ("serve", "lambda_invoke", "lambda_context", "evaluation", "face_free"):
        assert f"faceanon/{moved}.py" not in names
    tops = {name.split("/")[0] for name in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"faceanon", "faceanon_tools"}
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_wheel_metadata(wheel: zipfile.ZipFile) -> None:
    (metadata,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    meta = Parser().parsestr(wheel.read(metadata).decode())
    assert meta["Requires-Python"] == "<3.14,>=3.12"
    assert "tools" in meta.get_all("Provides-Extra", [])
    core = [r for r in meta.get_all("Requires-Dist", []) if "extra ==" not in r]
    assert not [r for r in core if r.startswith(("pyyaml", "awslambdaric", "boto3", "tqdm"))], core
    (entry_points,) = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    assert "faceanon = faceanon.cli:main" in wheel.read(entry_points).decode()
