"""The CLI's work per file, in this process (--jobs 1) or in a pool of worker processes (--jobs N).

Each worker builds its detector once (service.get_detector, one ONNX intra-op thread) and then handles one
file per task: read, anonymise (or detect), write the output atomically, and send back only a small JSON-able
record, never image bytes. Results come back in completion order with the task's index.

The pool uses the "forkserver" start method where it exists (a clean server process that has imported numpy,
Pillow and ONNX Runtime once, so workers start in milliseconds without inheriting the parent's threads),
else "spawn".
"""

import multiprocessing
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from . import service
from .cli_video import video_record
from .errors import FaceAnonError
from .images import decode, encode, read_file
from .settings import Settings
from .video import is_video

Record = dict[str, Any]
Task = Callable[..., Record]

_state: dict[str, Any] = {}


def init_worker(settings: Settings) -> None:
    """Build this process's detector (once per worker; in-process for --jobs 1)."""
    _state["settings"] = settings
    _state["detector"] = service.get_detector(settings)


def _init_pool_worker(settings: Settings) -> None:
    # Ctrl-C reaches the whole process group: the parent stops the pool, the workers finish their file and exit.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    init_worker(settings)


def error_message(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def write_atomically(path: Path, data: bytes) -> None:
    """Write via a temporary file and rename, so a crash never leaves a half-written file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def anonymise_task(
    source: str, target: str | None, data: bytes | None = None, every: int = 1, keep_creation_time: bool = False
) -> Record:
    """Anonymise one file into target (None: return the bytes, for stdout); a compact record of the result.

    Videos (by extension, with a target) go to faceanon.video, detecting every ``every``-th frame."""
    settings: Settings = _state["settings"]
    if target is not None and data is None and is_video(source):
        try:
            return video_record(source, target, settings, _state["detector"], every, keep_creation_time)
        except (OSError, FaceAnonError) as exc:
            return {"error": error_message(exc)}
    try:
        raw = data if data is not None else read_file(source, settings.max_bytes)
        result = service.anonymise(raw, settings, _state["detector"])
        if target is not None:
            write_atomically(Path(target), result.image)
    except (OSError, FaceAnonError) as exc:
        return {"error": error_message(exc)}
    record: Record = {
        "format": result.format,
        "width": result.width,
        "height": result.height,
        "frames": result.frames,
        "face_count": result.face_count,
        "faces": result.faces_as_rows(),
    }
    if result.frames > 1:
        record["face_frames"] = [face.frame for face in result.faces]
    record.update(review=result.review, review_reasons=list(result.review_reasons), ms=result.timings_ms["total"])
    record["model_sha256"] = result.model_sha256  # for the report's header (the CLI takes it out of the rows)
    if target is None:
        record["image"] = result.image
    return record


def detect_task(source: str, preview: str | None, data: bytes | None = None) -> Record:
    """Detect faces on one file's first frame (upright); optionally write a copy with the boxes drawn."""
    settings: Settings = _state["settings"]
    try:
        raw = data if data is not None else read_file(source, settings.max_bytes)
        decoded = decode(raw, max_pixels=settings.max_pixels, max_bytes=settings.max_bytes)
        rgb = decoded.frames[0]
        dets = service.detect_faces(_state["detector"], rgb, settings)
        if preview is not None:
            drawn = draw_boxes(rgb, dets)
            image = encode(decoded, [drawn, *decoded.frames[1:]], quality=settings.jpeg_quality)
            write_atomically(Path(preview), image)
    except (OSError, FaceAnonError) as exc:
        return {"error": error_message(exc)}
    return {
        "file": source,
        "width": int(rgb.shape[1]),
        "height": int(rgb.shape[0]),
        "faces": [face.to_report() for face in service.faces_from_detections(dets)],
    }


def draw_boxes(rgb: npt.NDArray[np.uint8], dets: npt.NDArray[np.float32]) -> npt.NDArray[np.uint8]:
    """A copy of rgb with each box outlined and its score written above it (for seeing what was detected)."""
    picture = Image.fromarray(np.ascontiguousarray(rgb))
    pen = ImageDraw.Draw(picture)
    width = max(2, round(min(picture.size) / 250))
    for x1, y1, x2, y2, score in dets[:, :5].tolist():
        pen.rectangle((x1, y1, x2, y2), outline=(0, 255, 0), width=width)
        label = f"{score:.2f}"
        top = max(0.0, y1 - 12 - width)
        pen.rectangle((x1, top, x1 + 7 * len(label) + 4, top + 12), fill=(0, 255, 0))
        pen.text((x1 + 2, top), label, fill=(0, 0, 0))
    return np.asarray(picture).copy()


def _start_method() -> str:
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


def run(
    task: Task, arguments: Sequence[tuple[Any, ...]], settings: Settings, jobs: int
) -> Iterator[tuple[int, Record]]:
    """(index, record) for every task, in completion order; one process when jobs or the tasks are 1."""
    workers = min(jobs, len(arguments))
    if workers <= 1:
        init_worker(settings)
        for index, args in enumerate(arguments):
            yield index, task(*args)
        return
    method = _start_method()
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        context.set_forkserver_preload([__name__])
    worker_settings = settings.override(intra_op_threads=1)
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_pool_worker, initargs=(worker_settings,))
    try:
        # Keep a bounded window of tasks in flight, so a folder of 100 000 photos is not 100 000 futures at once.
        pending: dict[Future[Record], int] = {}
        queue = iter(enumerate(arguments))
        window = workers * 4
        broken: list[int] = []

        def submit(index: int, args: tuple[Any, ...]) -> None:
            try:
                pending[pool.submit(task, *args)] = index
            except BrokenProcessPool:
                broken.append(index)

        for index, args in queue:
            submit(index, args)
            if len(pending) >= window:
                break
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                index = pending.pop(future)
                yield index, _result(future)
                following = next(queue, None)
                if following is not None:
                    submit(*following)
        for index in [*broken, *(index for index, _ in queue)]:
            yield index, {"error": "a worker process died (out of memory?)"}
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _result(future: "Future[Record]") -> Record:
    try:
        return future.result()
    except BrokenProcessPool:
        return {"error": "a worker process died (out of memory?)"}
    except Exception as exc:  # noqa: BLE001 - a bug in one file's work must not lose the others' results
        return {"error": f"internal error: {type(exc).__name__}: {exc}"}
