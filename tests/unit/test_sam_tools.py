"""scripts/sam_tools.sh's layer architecture check, over small fake layers (no sam build needed).

The check runs after every `sam_tools.sh build`: each platform wheel's tag and onnxruntime's extension module
(its ELF e_machine) must be of the architecture the template was built for.
"""

import struct
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "sam_tools.sh"
ELF_MACHINE = {"aarch64": 183, "x86_64": 62}


def fake_layer(root: Path, wheel_arch: str, elf_arch: str) -> Path:
    layer = root / "python"
    (layer / "numpy-2.0.dist-info").mkdir(parents=True)
    tags = "".join(f"Tag: cp312-cp312-{platform}_{wheel_arch}\n" for platform in ("manylinux_2_17", "manylinux2014"))
    (layer / "numpy-2.0.dist-info" / "WHEEL").write_text("Wheel-Version: 1.0\n" + tags)
    (layer / "pure-1.0.dist-info").mkdir()
    (layer / "pure-1.0.dist-info" / "WHEEL").write_text("Wheel-Version: 1.0\nTag: py3-none-any\n")
    capi = layer / "onnxruntime" / "capi"
    capi.mkdir(parents=True)
    header = b"\x7fELF\x02\x01\x01" + bytes(11) + struct.pack("<H", ELF_MACHINE[elf_arch])
    (capi / f"onnxruntime_pybind11_state.cpython-312-{elf_arch}-linux-gnu.so").write_bytes(header + bytes(64))
    return layer


def check(layer: Path, arch: str) -> subprocess.CompletedProcess[str]:
    """check_layer_arch from the script itself (only that function: the script's commands do not run)."""
    function = f'eval "$(sed -n \'/^check_layer_arch() {{/,/^}}/p\' "{SCRIPT}")"'
    return subprocess.run(
        ["bash", "-c", f'set -euo pipefail; {function}; check_layer_arch "$1" "$2"', "check", str(layer), arch],
        capture_output=True,
        text=True,
    )


@pytest.mark.parametrize("arch", ["aarch64", "x86_64"])
def test_a_layer_of_the_right_architecture_passes(tmp_path: Path, arch: str) -> None:
    run = check(fake_layer(tmp_path, arch, arch), arch)
    assert run.returncode == 0, run.stderr
    assert f"are {arch}" in run.stdout


def test_wheels_of_another_architecture_fail(tmp_path: Path) -> None:
    run = check(fake_layer(tmp_path, "x86_64", "aarch64"), "aarch64")
    assert run.returncode != 0
    assert "not for aarch64" in run.stderr
    assert "manylinux_2_17_x86_64" in run.stderr


def test_an_extension_module_of_another_machine_fails(tmp_path: Path) -> None:
    run = check(fake_layer(tmp_path, "aarch64", "x86_64"), "aarch64")
    assert run.returncode != 0
    assert "ELF machine 62" in run.stderr


def test_a_layer_without_onnxruntime_fails(tmp_path: Path) -> None:
    layer = fake_layer(tmp_path, "aarch64", "aarch64")
    for module in (layer / "onnxruntime" / "capi").iterdir():
        module.unlink()
    run = check(layer, "aarch64")
    assert run.returncode != 0
    assert "no onnxruntime extension module" in run.stderr
