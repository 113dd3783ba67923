"""`faceanon detect --json` is a public contract: one JSON object per line per file, stable keys and types.

Checked on the shipped sample always, and on every photo of ../shared/data when that folder is present.
"""

import json
from pathlib import Path

import pytest

from faceanon.cli import main

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "src" / "faceanon" / "samples" / "astronaut.jpg"
SHARED = REPO.parent / "shared" / "data"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


def check_record(record: dict[str, object], name: str) -> None:
    assert list(record) == ["file", "width", "height", "faces"]
    assert record["file"] == name
    width, height, faces = record["width"], record["height"], record["faces"]
    assert isinstance(width, int)
    assert width > 0
    assert isinstance(height, int)
    assert height > 0
    assert isinstance(faces, list)
    for face in faces:
        assert list(face) == ["box", "score"]
        x1, y1, x2, y2 = face["box"]
        assert 0 <= x1 < x2 <= width
        assert 0 <= y1 < y2 <= height
        assert 0.0 < face["score"] <= 1.0


def run_detect(files: list[str], capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    assert main(["detect", "--json", *files]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(files)
    return [json.loads(line) for line in lines]


def test_sample_photo(real_model_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name = str(SAMPLE)
    (record,) = run_detect([name], capsys)
    check_record(record, name)
    assert (record["width"], record["height"]) == (512, 512)
    assert len(record["faces"]) == 1  # type: ignore[arg-type]


def test_unreadable_file_is_reported_and_the_rest_still_printed(
    real_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "not_an_image.jpg"
    bad.write_text("hello")
    assert main(["detect", "--json", str(bad), str(SAMPLE)]) == 1
    captured = capsys.readouterr()
    assert "not_an_image.jpg" in captured.err
    (record,) = [json.loads(line) for line in captured.out.splitlines()]
    check_record(record, str(SAMPLE))


@pytest.mark.shared_data
@pytest.mark.slow
@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data is not present")
def test_every_shared_photo(real_model_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = sorted(str(p) for p in SHARED.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    assert len(files) > 500
    records = run_detect(files, capsys)
    for record, name in zip(records, files, strict=True):
        check_record(record, name)
    assert sum(len(r["faces"]) for r in records) > 1000  # type: ignore[arg-type,misc]
