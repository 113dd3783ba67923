"""What the Lambda layer holds: the runtime package and the model, nothing Lambda never runs.

Runs the layer Makefile's own copy step (SKIP_WHEELS=1: no wheel download) into a temporary ARTIFACTS_DIR, then
checks the copy; and scans the runtime package's imports (every src/faceanon module except the CLI's).
"""

import ast
import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from faceanon.model import MODEL_FILENAME, SHIPPED_MODEL, SHIPPED_VERIFIER, VERIFIER_FILENAME

REPO = Path(__file__).resolve().parents[2]
RUNTIME = REPO / "src" / "faceanon"
# Every module of the tools package, by name: none may turn up in the layer or be imported by runtime code.
NEVER_IN_LAMBDA = {path.stem for path in (REPO / "src" / "faceanon_tools").glob("*.py")} - {"__init__"}
FORBIDDEN_IMPORTS = ("http.server", "http", "socketserver", "yaml", "subprocess", "faceanon_tools", "importlib.util")


def _is_cli(path: Path) -> bool:
    return path.name.startswith("cli")


def _runtime_modules() -> list[Path]:
    return sorted(p for p in RUNTIME.rglob("*.py") if "__pycache__" not in p.parts and not _is_cli(p))


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    artifacts = tmp_path_factory.mktemp("layer")
    subprocess.run(
        ["make", "-s", "-f", str(REPO / "layers" / "Makefile"), "build-ModelLayer"],
        env={"PATH": "/usr/bin:/bin", "ARTIFACTS_DIR": str(artifacts), "SKIP_WHEELS": "1"},
        check=True,
        capture_output=True,
    )
    return artifacts / "python"


def test_layer_holds_the_runtime_modules_and_only_them(layer: Path) -> None:
    shipped = sorted(p.relative_to(layer) for p in (layer / "faceanon").rglob("*") if p.is_file())
    expected = sorted(Path("faceanon") / p.relative_to(RUNTIME) for p in _runtime_modules())
    expected += [Path("faceanon") / "model" / MODEL_FILENAME, Path("faceanon") / "model" / VERIFIER_FILENAME]
    assert shipped == sorted(expected)


def test_layer_has_no_tool_cli_page_or_sample(layer: Path) -> None:
    names = {p.relative_to(layer).as_posix() for p in layer.rglob("*")}
    assert not (layer / "faceanon_tools").exists()
    for name in names:
        parts = name.split("/")
        assert not parts[-1].startswith("cli"), name
        assert Path(parts[-1]).stem not in NEVER_IN_LAMBDA, name
        assert not {"web", "samples", "__pycache__"} & set(parts), name


def test_layer_models_are_the_package_models(layer: Path) -> None:
    models = {p.name: p for p in (layer / "faceanon" / "model").iterdir()}
    assert sorted(models) == sorted([MODEL_FILENAME, VERIFIER_FILENAME])
    for shipped in (SHIPPED_MODEL, SHIPPED_VERIFIER):
        assert (
            hashlib.sha256(models[shipped.name].read_bytes()).digest() == hashlib.sha256(shipped.read_bytes()).digest()
        )


def test_makefile_ships_the_file_names_model_py_looks_up() -> None:
    makefile = (REPO / "layers" / "Makefile").read_text()
    assert f"MODEL_FILE := {MODEL_FILENAME}" in makefile
    assert f"VERIFIER_FILE := {VERIFIER_FILENAME}" in makefile


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: faceanon's own modules
                found.update(f"faceanon.{base}.{a.name}".replace("..", ".") for a in node.names)
                found.add(f"faceanon.{base}".rstrip("."))
            else:
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


@pytest.mark.parametrize("module", _runtime_modules(), ids=lambda p: p.relative_to(RUNTIME).as_posix())
def test_runtime_module_imports_no_tooling(module: Path) -> None:
    imports = _imports(module)
    for name in imports:
        for forbidden in FORBIDDEN_IMPORTS:
            assert name != forbidden, f"{module.name} imports {name}"
            assert not name.startswith(forbidden + "."), f"{module.name} imports {name}"
        assert not name.startswith("faceanon.cli"), f"{module.name} imports the CLI ({name})"
        assert name.rsplit(".", 1)[-1] not in NEVER_IN_LAMBDA, f"{module.name} imports {name}"


@pytest.mark.parametrize("module", _runtime_modules(), ids=lambda p: p.relative_to(RUNTIME).as_posix())
def test_runtime_module_does_not_know_the_repo_layout(module: Path) -> None:
    source = module.read_text()
    assert "parents[" not in source, module.name
    assert "import_module" not in source, module.name
