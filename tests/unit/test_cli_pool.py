"""--jobs N: a process pool with the real model gives the same outputs as one process."""

import json
import shutil
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceanon.cli import main
from support.images import marked


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def test_two_jobs_match_one_job(real_model_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEANON_MODEL_PATH", str(real_model_path))  # the workers resolve the same model
    photos = tmp_path / "photos"
    photos.mkdir()
    sample = resources.files("faceanon").joinpath("samples", "astronaut.jpg").read_bytes()
    for index in range(4):
        (photos / f"astronaut_{index}.jpg").write_bytes(sample)
    Image.fromarray(marked(80, 60, (20, 20, 40, 40))).save(photos / "no_face.png")
    (photos / "broken.jpg").write_bytes(b"\xff\xd8 broken")

    reports = {}
    for jobs in (1, 2):
        report = tmp_path / f"report{jobs}.json"
        code = main(["anonymise", str(photos), "-o", str(tmp_path / f"out{jobs}"), "--jobs", str(jobs),
                     "--report", str(report), "--quiet"])  # fmt: skip
        assert code == 1  # broken.jpg
        reports[jobs] = json.loads(report.read_text())
    one, two = reports[1], reports[2]
    assert one["model_sha256"] == two["model_sha256"] != "unknown"
    strip = ("ms", "output")
    assert [{k: v for k, v in f.items() if k not in strip} for f in one["files"]] == [
        {k: v for k, v in f.items() if k not in strip} for f in two["files"]
    ]
    assert one["summary"]["faces"] == 4
    assert (one["summary"]["anonymised"], one["summary"]["failed"]) == (5, 1)
    for name in [f"astronaut_{i}.jpg" for i in range(4)] + ["no_face.png"]:
        assert np.array_equal(_pixels(tmp_path / "out1" / name), _pixels(tmp_path / "out2" / name))
    shutil.rmtree(photos)
