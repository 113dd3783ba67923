import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import FakeDetector, marked
from faceanon import cli, service
from faceanon.cli import main

MARK = (10, 10, 30, 30)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeDetector:
    detector = FakeDetector()
    monkeypatch.setattr(cli, "get_detector", lambda settings: detector)
    monkeypatch.setattr(service, "get_detector", lambda settings: detector)
    return detector


def _write(path: Path, fmt: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(marked(60, 40, MARK)).save(path, fmt)
    return path


def _masked(path: Path) -> bool:
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB"), dtype=int)
    return bool(pixels[14:26, 14:26].max() <= 12)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    _write(root / "a.jpg")
    _write(root / "sub" / "b.png")
    _write(root / "sub" / "deeper" / "c.webp")
    (root / "notes.txt").write_text("not an image")
    return root


def test_folder_outputs_beside_inputs_with_suffix(tree: Path, fake: FakeDetector) -> None:
    assert main(["anonymise", str(tree)]) == 0
    outputs = sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*_anonymised.*"))
    assert outputs == ["a_anonymised.jpg", "sub/b_anonymised.png", "sub/deeper/c_anonymised.webp"]
    for output in tree.rglob("*_anonymised.*"):
        assert _masked(output)
        with Image.open(output) as image:
            assert image.format == {".jpg": "JPEG", ".png": "PNG", ".webp": "WEBP"}[output.suffix]
    # A second run does not anonymise the outputs again.
    assert main(["anonymise", str(tree)]) == 0
    assert not list(tree.rglob("*_anonymised_anonymised.*"))


def test_output_folder_keeps_relative_paths_and_report(tree: Path, tmp_path: Path, fake: FakeDetector) -> None:
    out, report = tmp_path / "out", tmp_path / "report.json"
    code = main(["anonymise", str(tree), "-o", str(out), "--method", "pixelate", "--report", str(report), "--fast"])
    assert code == 0
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "a.jpg",
        "sub/b.png",
        "sub/deeper/c.webp",
    ]
    data = json.loads(report.read_text())
    assert data["settings"]["method"] == "pixelate"
    assert data["settings"]["detection"] == "fast"
    assert data["model_sha256"] == "fake-model"
    assert data["summary"] == {"files": 3, "failed": 0, "faces": 3}
    first = data["files"][0]
    assert first["error"] is None
    assert first["face_count"] == 1
    assert first["ms"] >= 0
    assert np.allclose(first["faces"][0]["box"], MARK, atol=2)  # a.jpg: JPEG blurs the marker's edge a little


def test_bad_files_fail_with_one_line_each_and_nonzero_exit(
    tmp_path: Path, fake: FakeDetector, capsys: pytest.CaptureFixture[str]
) -> None:
    good = _write(tmp_path / "good.png")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    report = tmp_path / "r.json"
    code = main(["anonymise", str(good), str(bad), str(tmp_path / "missing.png"), "--report", str(report)])
    assert code == 1
    lines = capsys.readouterr().err.splitlines()
    assert [line for line in lines if str(bad) in line] == [
        f"faceanon: {bad}: not an image in a supported format (JPEG, PNG, WebP, GIF, TIFF, BMP, AVIF, HEIC)"
    ]
    assert [line for line in lines if "missing.png" in line] == [
        f"faceanon: {tmp_path / 'missing.png'}: no such file or folder"
    ]
    assert _masked(tmp_path / "good_anonymised.png")
    assert not (tmp_path / "bad_anonymised.jpg").exists()
    data = json.loads(report.read_text())
    assert data["summary"]["failed"] == 2
    assert [f["error"] is None for f in data["files"]] == [True, False]


def test_never_overwrites_an_input(tmp_path: Path, fake: FakeDetector) -> None:
    source = _write(tmp_path / "a.png")
    before = source.read_bytes()
    assert main(["anonymise", str(source), "-o", str(tmp_path)]) == 1
    assert source.read_bytes() == before


def test_two_inputs_for_one_output_are_refused(tmp_path: Path, fake: FakeDetector) -> None:
    first, second = _write(tmp_path / "x" / "a.png"), _write(tmp_path / "y" / "a.png")
    out = tmp_path / "out"
    assert main(["anonymise", str(first), str(second), "-o", str(out)]) == 1
    assert _masked(out / "a.png")


def test_invalid_option_is_a_clear_error(
    tmp_path: Path, fake: FakeDetector, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["anonymise", str(_write(tmp_path / "a.png")), "--mask-scale", "9"]) == 2
    assert "mask_scale" in capsys.readouterr().err


def test_demo_writes_the_sample_and_prints_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    detector = FakeDetector([[180, 60, 270, 180, 0.93]])
    monkeypatch.setattr(service, "get_detector", lambda settings: detector)
    assert main(["demo", "-o", str(tmp_path / "out")]) == 0
    line = capsys.readouterr().out.strip()
    assert "1 face" in line
    assert "ms" in line
    assert "astronaut_anonymised.jpg" in line
    with Image.open(tmp_path / "out" / "astronaut_anonymised.jpg") as image:
        assert image.size == (512, 512)
        assert np.asarray(image.convert("L"))[110:130, 215:235].max() <= 12
