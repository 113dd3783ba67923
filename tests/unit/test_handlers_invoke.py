"""faceanon invoke's pieces that need no SAM build: architecture guard, runtime directory, CLI errors."""

import platform
from pathlib import Path

import pytest

from faceanon import cli
from faceanon_tools.lambda_invoke import InvokeError, check_layer_architecture, runtime_dir

ELF_MACHINE = {"x86_64": 0x3E, "aarch64": 0xB7}


def fake_library(path: Path, machine: str) -> None:
    header = bytearray(64)
    header[:4] = b"\x7fELF"
    header[18:20] = ELF_MACHINE[machine].to_bytes(2, "little")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(header))


@pytest.mark.parametrize("machine", sorted(ELF_MACHINE))
def test_layer_architecture_must_match_this_machine(tmp_path: Path, machine: str) -> None:
    fake_library(tmp_path / "python" / "onnxruntime" / "capi" / "state.so", machine)
    host = {"arm64": "aarch64", "amd64": "x86_64"}.get(platform.machine().lower(), platform.machine().lower())
    if machine == host:
        check_layer_architecture(tmp_path / "python")
    else:
        with pytest.raises(InvokeError, match=f"the built layer is {machine}"):
            check_layer_architecture(tmp_path / "python")


def test_runtime_dir_holds_only_the_lambda_runtime_packages(tmp_path: Path) -> None:
    names = {p.name for p in runtime_dir(tmp_path / "runtime").iterdir()}
    assert {"awslambdaric", "boto3", "botocore"} <= names
    assert not names & {"numpy", "onnxruntime", "PIL", "faceanon", "aws_lambda_powertools", "moto"}


def test_cli_invoke_without_a_build_explains_what_to_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "template.yaml"
    assert cli.main(["invoke", "AnonymiseApiFunction", "events/api_json.json", "--template", str(missing)]) == 2
    assert "sam_tools.sh build" in capsys.readouterr().err
