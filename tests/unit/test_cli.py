import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceanon import service
from faceanon.cli import main
from support.fakes import FakeDetector
from support.images import marked

MARK = (10, 10, 30, 30)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeDetector:
    """A fake detector in this process; FACEANON_JOBS=1 keeps the work here (a pool's workers would not see it)."""
    detector = FakeDetector()
    monkeypatch.setattr(service, "get_detector", lambda settings: detector)
    monkeypatch.setenv("FACEANON_JOBS", "1")
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
    # A second run does not anonymise the outputs again (and skips what is already done).
    assert main(["anonymise", str(tree), "--skip-existing"]) == 0
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
    text = report.read_text()
    data = json.loads(text)
    assert data["settings"]["method"] == "pixelate"
    assert data["settings"]["detection"] == "fast"
    assert data["model_sha256"] == "fake-model"
    summary = data["summary"]
    assert {k: summary[k] for k in ("files", "anonymised", "skipped", "failed", "faces", "review")} == {
        "files": 3,
        "anonymised": 3,
        "skipped": 0,
        "failed": 0,
        "faces": 3,
        "review": 0,
    }
    assert summary["seconds"] >= 0
    assert summary["images_per_second"] > 0
    first = data["files"][0]
    assert first["input"] == str(tree / "a.jpg")
    assert first["output"] == str(out / "a.jpg")
    assert first["status"] == "anonymised"
    assert first["error"] is None
    assert first["face_count"] == 1
    assert first["ms"] >= 0
    (face,) = first["faces"]
    assert len(face) == 5
    assert np.allclose(face[:4], MARK, atol=2)  # a.jpg: JPEG blurs the marker's edge a little
    # Compact: one line per file record, between the header and the summary.
    lines = text.splitlines()
    assert len(lines) == 1 + 3 + 2
    assert all(json.loads(line.rstrip(","))["input"] for line in lines[1:4])


def test_review_count_in_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    detector = FakeDetector(score=0.5)  # below threshold + 0.1 at --threshold 0.45: flagged low_score
    monkeypatch.setattr(service, "get_detector", lambda settings: detector)
    monkeypatch.setenv("FACEANON_JOBS", "1")
    report = tmp_path / "r.json"
    source = _write(tmp_path / "a.png")
    assert main(["anonymise", str(source), "--threshold", "0.45", "--report", str(report)]) == 0
    data = json.loads(report.read_text())
    assert data["summary"]["review"] == 1
    assert data["files"][0]["review_reasons"] == ["low_score"]


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
    assert data["summary"]["anonymised"] == 1
    assert [f["status"] for f in data["files"]] == ["anonymised", "failed", "failed"]
    assert [f["error"] is None for f in data["files"]] == [True, False, False]
    assert lines[-1].startswith("faceanon: 3 file(s): 1 anonymised, 0 skipped, 2 failed; 1 face(s) masked")


def test_never_overwrites_an_input(tmp_path: Path, fake: FakeDetector) -> None:
    source = _write(tmp_path / "a.png")
    before = source.read_bytes()
    assert main(["anonymise", str(source), "-o", str(tmp_path)]) == 1
    assert main(["anonymise", str(source), "-o", str(tmp_path), "--overwrite"]) == 1
    assert source.read_bytes() == before


def test_two_inputs_for_one_output_are_refused(tmp_path: Path, fake: FakeDetector) -> None:
    first, second = _write(tmp_path / "x" / "a.png"), _write(tmp_path / "y" / "a.png")
    out = tmp_path / "out"
    assert main(["anonymise", str(first), str(second), "-o", str(out)]) == 1
    assert _masked(out / "a.png")


def test_existing_output_refused_skipped_or_overwritten(
    tmp_path: Path, fake: FakeDetector, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _write(tmp_path / "a.png")
    _write(tmp_path / "b.png")
    target = tmp_path / "a_anonymised.png"
    target.write_bytes(b"earlier output")
    report = tmp_path / "r.json"

    assert main(["anonymise", str(tmp_path), "--report", str(report)]) == 1  # refused: exists
    assert target.read_bytes() == b"earlier output"
    assert _masked(tmp_path / "b_anonymised.png")  # the other file still done
    assert f"faceanon: {source}: output {target} exists (--overwrite replaces it" in capsys.readouterr().err
    assert json.loads(report.read_text())["summary"]["failed"] == 1

    (tmp_path / "b_anonymised.png").unlink()
    assert main(["anonymise", str(tmp_path), "--skip-existing", "--report", str(report)]) == 0
    assert target.read_bytes() == b"earlier output"
    summary = json.loads(report.read_text())["summary"]
    assert (summary["skipped"], summary["anonymised"], summary["failed"]) == (1, 1, 0)

    assert main(["anonymise", str(tmp_path), "--overwrite"]) == 0
    assert _masked(target)


def test_overwrite_and_skip_existing_exclude_each_other(tmp_path: Path, fake: FakeDetector) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["anonymise", str(_write(tmp_path / "a.png")), "--overwrite", "--skip-existing"])
    assert exc.value.code == 2


def test_dry_run_writes_nothing(
    tree: Path, tmp_path: Path, fake: FakeDetector, capsys: pytest.CaptureFixture[str]
) -> None:
    before = sorted(tmp_path.rglob("*"))
    out = tmp_path / "out"
    assert main(["anonymise", str(tree), "-o", str(out), "--dry-run", "--report", str(tmp_path / "r.json")]) == 0
    assert sorted(tmp_path.rglob("*")) == before
    assert not fake.calls  # nothing detected either
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        f"{tree / 'a.jpg'} -> {out / 'a.jpg'}",
        f"{tree / 'sub' / 'b.png'} -> {out / 'sub' / 'b.png'}",
        f"{tree / 'sub' / 'deeper' / 'c.webp'} -> {out / 'sub' / 'deeper' / 'c.webp'}",
    ]
    assert "nothing written" in captured.err


def test_report_to_stdout(tree: Path, tmp_path: Path, fake: FakeDetector, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["anonymise", str(tree), "-o", str(tmp_path / "out"), "--report", "-"]) == 0
    assert not Path("-").exists()
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["summary"]["files"] == 3
    assert "3 anonymised" in captured.err  # the human summary stays on stderr


def test_quiet_prints_no_summary(tree: Path, fake: FakeDetector, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["anonymise", str(tree), "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def _png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(marked(60, 40, MARK)).save(buffer, "PNG")
    return buffer.getvalue()


class _Stdin:
    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)


def test_stdin_to_stdout_round_trip(
    fake: FakeDetector, monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path
) -> None:
    monkeypatch.setattr("sys.stdin", _Stdin(_png_bytes()))
    assert main(["anonymise", "-"]) == 0
    captured = capsysbinary.readouterr()
    with Image.open(io.BytesIO(captured.out)) as image:
        assert image.format == "PNG"
        pixels = np.asarray(image.convert("RGB"), dtype=int)
    expected = marked(60, 40, MARK).astype(int)
    assert pixels[14:26, 14:26].max() <= 12  # masked
    assert np.array_equal(pixels[:, 40:], expected[:, 40:])  # the rest untouched
    assert b"1 anonymised" in captured.err

    # -o - with one file does the same from a file.
    source = tmp_path / "a.png"
    source.write_bytes(_png_bytes())
    assert main(["anonymise", str(source), "-o", "-"]) == 0
    with Image.open(io.BytesIO(capsysbinary.readouterr().out)) as image:
        assert np.array_equal(np.asarray(image.convert("RGB"), dtype=int), pixels)


def test_stdin_error_leaves_stdout_empty(
    fake: FakeDetector, monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    monkeypatch.setattr("sys.stdin", _Stdin(b"not an image"))
    assert main(["anonymise", "-", "-o", "-"]) == 1
    captured = capsysbinary.readouterr()
    assert captured.out == b""
    assert b"faceanon: -: not an image" in captured.err


def test_stdin_misuse_is_a_clear_error(tmp_path: Path, fake: FakeDetector, capsys: pytest.CaptureFixture[str]) -> None:
    source = str(_write(tmp_path / "a.png"))
    assert main(["anonymise", "-", source]) == 2
    assert "must be the only input" in capsys.readouterr().err
    assert main(["anonymise", source, str(_write(tmp_path / "b.png")), "-o", "-"]) == 2
    assert "exactly one input" in capsys.readouterr().err
    assert main(["anonymise", "-", "--report", "-"]) == 2


def test_detect_folder_in_input_order_and_draw_boxes(
    tree: Path, tmp_path: Path, fake: FakeDetector, capsys: pytest.CaptureFixture[str]
) -> None:
    boxes = tmp_path / "boxes"
    assert main(["detect", str(tree), "--draw-boxes", str(boxes)]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["file"] for r in records] == [
        str(tree / "a.jpg"),
        str(tree / "sub/b.png"),
        str(tree / "sub/deeper/c.webp"),
    ]
    for record in records:
        assert list(record) == ["file", "width", "height", "faces"]
        assert (record["width"], record["height"]) == (60, 40)
        (face,) = record["faces"]
        assert list(face) == ["box", "score"]
    copy = boxes / "sub" / "b.png"
    with Image.open(copy) as image:
        pixels = np.asarray(image.convert("RGB"), dtype=int)
    assert tuple(pixels[20, 10]) == (0, 255, 0)  # the box outline
    assert tuple(pixels[20, 20]) == (255, 0, 0)  # NOT anonymised: the "face" is still there


def test_detect_stdin_and_terminal_lines(
    fake: FakeDetector, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from faceanon.cli_detect import _detect_line

    monkeypatch.setattr("sys.stdin", _Stdin(_png_bytes()))
    assert main(["detect", "-"]) == 0
    (record,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert record["file"] == "-"
    assert len(record["faces"]) == 1
    assert _detect_line(record, as_json=False) == "-  60x40  1 face(s): [10, 10, 30, 30] 0.90"


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


@pytest.mark.parametrize("mode", ["default", "fast", "thorough"])
def test_detection_mode_reaches_the_report(tree: Path, tmp_path: Path, fake: FakeDetector, mode: str) -> None:
    report = tmp_path / "report.json"
    code = main(["anonymise", str(tree), "-o", str(tmp_path / "out"), "--report", str(report), "--detection", mode])
    assert code == 0
    assert json.loads(report.read_text())["settings"]["detection"] == mode


def test_fast_and_detection_exclude_each_other(tree: Path, fake: FakeDetector) -> None:
    with pytest.raises(SystemExit):
        main(["anonymise", str(tree), "--fast", "--detection", "thorough"])
