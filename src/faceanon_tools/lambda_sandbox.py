"""What the local Lambda sandbox is built from: the built layer (checked for this machine's architecture) and a
stand-in for Lambda's /var/runtime holding only what Lambda's python3.12 runtime provides."""

import importlib.metadata as metadata
import platform
import re
from collections.abc import Sequence
from pathlib import Path

from .lambda_spec import InvokeError

RUNTIME_PACKAGES = ("awslambdaric", "boto3")  # what Lambda's python3.12 runtime has on its path
_ELF_MACHINES = {0x3E: "x86_64", 0xB7: "aarch64"}


def _elf_machine(path: Path) -> str | None:
    with path.open("rb") as handle:
        header = handle.read(20)
    if header[:4] != b"\x7fELF":
        return None
    return _ELF_MACHINES.get(int.from_bytes(header[18:20], "little"), "other")


def check_layer_architecture(layer_python: Path) -> None:
    """Refuse a layer whose native code cannot run on this machine (e.g. an arm64 build on x86_64)."""
    host = {"arm64": "aarch64", "amd64": "x86_64"}.get(platform.machine().lower(), platform.machine().lower())
    for library in layer_python.rglob("*.so*"):
        machine = _elf_machine(library) if library.is_file() else None
        if machine is not None:
            if machine != host:
                raise InvokeError(
                    f"the built layer is {machine} and this machine is {host}: "
                    f"rebuild with `bash scripts/sam_tools.sh build` (it builds for this machine)"
                )
            return


def _requirement_names(dist: metadata.Distribution) -> list[str]:
    names = []
    for requirement in dist.requires or []:
        if "extra ==" in requirement:
            continue
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
        if match:
            names.append(match.group(0))
    return names


def _top_level(dist: metadata.Distribution) -> set[str]:
    names = set()
    for file in dist.files or []:
        first = file.parts[0]
        if first == ".." or first.endswith((".dist-info", ".egg-info", ".pth")) or first == "__pycache__":
            continue
        names.add(first)
    return names


def runtime_dir(target: Path, packages: Sequence[str] = RUNTIME_PACKAGES) -> Path:
    """A stand-in for Lambda's /var/runtime: symlinks to awslambdaric, boto3 and their dependencies only."""
    target.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    pending = list(packages)
    while pending:
        name = pending.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError as exc:
            raise InvokeError(f"{name} is not installed (pip install 'faceanon[tools]')") from exc
        site = Path(str(dist.locate_file("")))
        for top in _top_level(dist):
            link = target / top
            if not link.exists():
                link.symlink_to(site / top)
        pending.extend(_requirement_names(dist))
    return target
