"""Face tracks across video frames, so a face the detector misses for a few frames stays masked.

Pure NumPy (no av), one ``FaceTracker`` per video. Each frame, ``update`` takes the detector's boxes (or None
for a frame that was not detected, e.g. between detections with ``--fast``) and returns the boxes to mask:

* every detection, as detected (never moved or shrunk), tagged with the track it joined;
* for each track missed recently (or not looked for: a None frame), its box predicted forward at the track's
  smoothed velocity (a constant velocity model: enough for the few frames a mask is held) and grown by
  ``grow`` per frame since it was last seen, because the longer a face goes unseen the less sure its position
  is (privacy first: mask more, not less). A track seen only once has no velocity yet: it grows by
  ``NEW_TRACK_GROW`` per frame more, until its second detection.

Matching is greedy by IoU between detections and the tracks' predicted boxes (best pair first, at least
``match_iou``); a detection left over joins the nearest unmatched track of about its size when it is within
half the track's size per frame since the track was last seen (fast faces, or detection every Nth frame, move
more than IoU can follow). A detection that joins no track starts one; a track unseen
on more than ``hold_frames`` detected frames is dropped. Frames given as None do not count as misses: the tracks
are moved (and grown), so with detection every Nth frame a mask is held for up to ``hold_frames`` x N frames.
"""

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from .errors import InvalidRequestError

FloatArray = npt.NDArray[np.float32]

# How much of a new velocity estimate is taken (the rest is the old one): smooths detector jitter.
VELOCITY_SMOOTHING = 0.5
# A face unmatched by IoU may still join a track within this many of its sizes per frame since last seen (at most
# MAX_REACH sizes), if about as big: faces moving more than half their width between detections (--fast).
REACH_PER_FRAME = 0.5
MAX_REACH = 2.0
# Extra growth per frame of a track seen once (its velocity unknown): covers a face moving up to ~0.15 of its size a
# frame between detections with --fast.
NEW_TRACK_GROW = 0.15
# Velocity is damped per unseen frame, so a held mask slows down instead of flying off along a wrong estimate.
VELOCITY_DAMPING = 0.8


@dataclass(frozen=True)
class TrackerOptions:
    """How tracks are matched and held. Defaults: a 30 fps clip holds a lost face's mask for 0.4 s, growing
    3% of its size per frame unseen (36% larger at the end of the hold)."""

    match_iou: float = 0.3  # detections join a track at this IoU with its predicted box
    hold_frames: int = 12  # a track unseen this many (detected) frames is dropped; its mask is held meanwhile
    grow: float = 0.03  # held boxes grow by this fraction of their size per frame since last seen

    def __post_init__(self) -> None:
        if not 0.0 < self.match_iou <= 1.0:
            raise InvalidRequestError("tracker match_iou must be in (0, 1]")
        if isinstance(self.hold_frames, bool) or not isinstance(self.hold_frames, int) or self.hold_frames < 0:
            raise InvalidRequestError("tracker hold_frames must be a whole number >= 0")
        if not 0.0 <= self.grow <= 1.0:
            raise InvalidRequestError("tracker grow must be in [0, 1]")


@dataclass
class _Track:
    track_id: int
    seen: npt.NDArray[np.float64]  # x1, y1, x2, y2 of the last detection that joined the track
    score: float
    box: npt.NDArray[np.float64] = field(init=False)  # the predicted box this frame
    velocity: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(4))  # per frame, of each coordinate
    frames_since_seen: int = 0  # every frame since the last match (None frames too): for the velocity
    unseen: int = 0  # detected frames without a match: for hold
    hits: int = 1  # detections that joined the track

    def __post_init__(self) -> None:
        self.box = self.seen.copy()

    def predict(self) -> None:
        if self.unseen:
            self.velocity = self.velocity * VELOCITY_DAMPING
        self.box = self.box + self.velocity
        self.frames_since_seen += 1

    def see(self, detection: npt.NDArray[np.float64]) -> None:
        measured = (detection[:4] - self.seen) / max(1, self.frames_since_seen)
        smoothing = VELOCITY_SMOOTHING if self.hits > 1 else 1.0  # the first measurement is all there is
        self.velocity = smoothing * measured + (1 - smoothing) * self.velocity
        self.hits += 1
        self.seen = detection[:4].astype(np.float64)
        self.box = self.seen.copy()
        self.score = float(detection[4])
        self.frames_since_seen = 0
        self.unseen = 0

    def held_box(self, grow: float) -> npt.NDArray[np.float64]:
        """The predicted box, grown about its centre by grow per frame since last seen (more while new)."""
        per_frame = grow + (NEW_TRACK_GROW if self.hits < 2 else 0.0)
        centre = (self.box[0:2] + self.box[2:4]) / 2
        half = (self.box[2:4] - self.box[0:2]) / 2 * (1 + per_frame * self.frames_since_seen)
        return np.concatenate([centre - half, centre + half])


def iou_matrix(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """IoU of every box in a [N, >=4] with every box in b [M, >=4] -> [N, M]."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def near_matrix(
    boxes: npt.NDArray[np.float64], steps: npt.NDArray[np.float64], dets: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """[N, M] closeness in [0, 1] of detection m to predicted box n (0: too far or too different in size).

    A face may move up to REACH_PER_FRAME of its size per frame since it was last seen (at most MAX_REACH
    sizes): what IoU cannot match when a face moves more than about half its width between detections."""
    size = np.sqrt(np.clip(boxes[:, 2] - boxes[:, 0], 1, None) * np.clip(boxes[:, 3] - boxes[:, 1], 1, None))
    det_size = np.sqrt(np.clip(dets[:, 2] - dets[:, 0], 1, None) * np.clip(dets[:, 3] - dets[:, 1], 1, None))
    centre = (boxes[:, 0:2] + boxes[:, 2:4]) / 2
    det_centre = (dets[:, 0:2] + dets[:, 2:4]) / 2
    distance = np.linalg.norm(centre[:, None, :] - det_centre[None, :, :], axis=2)
    reach = size[:, None] * np.minimum(MAX_REACH, REACH_PER_FRAME * np.maximum(1, steps))[:, None]
    ratio = det_size[None, :] / size[:, None]
    close = 1 - distance / reach
    return np.where((ratio >= 0.5) & (ratio <= 2.0) & (close > 0), close, 0.0)


def _greedy_pairs(score: npt.NDArray[np.float64], minimum: float) -> list[tuple[int, int]]:
    """(row, column) pairs, best score first, each row and column used once, scores >= minimum."""
    pairs: list[tuple[int, int]] = []
    if score.size == 0:
        return pairs
    used_rows: set[int] = set()
    used_cols: set[int] = set()
    order = np.argsort(-score, axis=None, kind="stable")
    for flat in order:
        row, col = divmod(int(flat), score.shape[1])
        if score[row, col] < minimum:
            break
        if row in used_rows or col in used_cols:
            continue
        pairs.append((row, col))
        used_rows.add(row)
        used_cols.add(col)
    return pairs


class FaceTracker:
    """Tracks faces over one video's frames; call ``update`` once per frame, in order."""

    def __init__(self, options: TrackerOptions = TrackerOptions()) -> None:
        self.options = options
        self._tracks: list[_Track] = []
        self._next_id = 0

    @property
    def tracks_started(self) -> int:
        """How many tracks (distinct faces, as far as the tracker can tell) this video has had."""
        return self._next_id

    @property
    def active_tracks(self) -> int:
        return len(self._tracks)

    def update(self, detections: npt.NDArray[np.floating] | None) -> FloatArray:
        """One frame. detections float32 [N, 5] (x1, y1, x2, y2, score) or None when the frame was not
        detected. Returns float32 [M, 6] (x1, y1, x2, y2, score, track_id): the boxes to mask this frame, the
        N detections' rows first (faceanon.video_lookahead relies on it), then the held tracks'."""
        for track in self._tracks:
            track.predict()
        if detections is None:
            return self._output([], self._tracks)
        dets = np.asarray(detections, dtype=np.float64).reshape(-1, 5) if np.size(detections) else np.zeros((0, 5))
        if not np.isfinite(dets).all():
            raise InvalidRequestError("tracker got non-finite boxes")
        predicted = np.array([t.held_box(self.options.grow) for t in self._tracks]).reshape(-1, 4)
        pairs = _greedy_pairs(iou_matrix(predicted, dets), self.options.match_iou)
        free_tracks = [i for i in range(len(self._tracks)) if i not in {p[0] for p in pairs}]
        free_dets = [j for j in range(len(dets)) if j not in {p[1] for p in pairs}]
        if free_tracks and free_dets:  # fallback for fast faces: the nearest detection of about the same size
            steps = np.array([self._tracks[i].frames_since_seen for i in free_tracks], dtype=np.float64)
            near = near_matrix(predicted[free_tracks], steps, dets[free_dets])
            for row, col in _greedy_pairs(near, 1e-9):
                pairs.append((free_tracks[row], free_dets[col]))
        matched: list[tuple[_Track, int]] = []
        for track_index, det_index in pairs:
            track = self._tracks[track_index]
            track.see(dets[det_index])
            matched.append((track, det_index))
        seen_dets = {det_index for _, det_index in matched}
        for j in range(len(dets)):
            if j not in seen_dets:
                track = _Track(self._next_id, dets[j, :4].copy(), float(dets[j, 4]))
                self._next_id += 1
                self._tracks.append(track)
                matched.append((track, j))
        held: list[_Track] = []
        kept: list[_Track] = []
        for track in self._tracks:
            if track.frames_since_seen == 0:  # matched (or started) this frame
                kept.append(track)
                continue
            track.unseen += 1
            if track.unseen <= self.options.hold_frames:
                kept.append(track)
                held.append(track)
        self._tracks = kept
        rows = [(*dets[j, :5], float(track.track_id)) for track, j in matched]
        return self._output(rows, held)

    def _output(self, rows: list[tuple[float, ...]], held: list[_Track]) -> FloatArray:
        for track in held:
            rows.append((*track.held_box(self.options.grow), track.score, float(track.track_id)))
        if not rows:
            return np.zeros((0, 6), dtype=np.float32)
        return np.asarray(rows, dtype=np.float32)
