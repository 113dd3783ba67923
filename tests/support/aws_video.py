"""Small generated clips for the video-on-AWS tests: coloured frames with a moving square, optional audio.

Written with PyAV in the tests (nothing downloaded); every frame's colour encodes its index, so a test can
check frame order and count after a split and join by decoding.
"""

from fractions import Fraction
from pathlib import Path

import numpy as np

CODECS = {".mp4": "libx264", ".mov": "libx264", ".mkv": "libx264", ".webm": "libvpx-vp9", ".m4v": "libx264"}
AUDIO = {".mp4": "aac", ".mov": "aac", ".mkv": "aac", ".webm": "libopus", ".m4v": "aac"}


def frame_image(index: int, width: int, height: int) -> np.ndarray:
    """Frame ``index``: a grey level from the index and a white square moving left to right."""
    image = np.full((height, width, 3), (index * 7) % 200 + 20, dtype=np.uint8)
    x = (index * 4) % max(1, width - 40)
    image[height // 3 : height // 3 + 40, x : x + 40] = 255
    return image


def make_clip(
    path: Path,
    *,
    frames: int = 60,
    fps: int = 30,
    width: int = 160,
    height: int = 120,
    gop: int = 15,
    audio: bool = True,
    images: list[np.ndarray] | None = None,
) -> Path:
    import av

    suffix = path.suffix.lower()
    with av.open(str(path), mode="w") as output:
        video = output.add_stream(CODECS[suffix], rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.codec_context.gop_size = gop
        video.codec_context.options = {"keyint_min": str(gop), "sc_threshold": "0"} if suffix != ".webm" else {}
        sound = output.add_stream(AUDIO[suffix], rate=48000, layout="mono") if audio else None
        for index in range(frames):
            image = images[index] if images is not None else frame_image(index, width, height)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            output.mux(video.encode(frame))
        output.mux(video.encode(None))
        if sound is not None:
            samples = 48000 * frames // fps
            tone = (0.2 * np.sin(np.arange(samples) * 2 * np.pi * 440 / 48000)).astype(np.float32)[None, :]
            step = 960
            for start in range(0, samples, step):
                chunk = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(tone[:, start : start + step]), format="fltp", layout="mono"
                )
                chunk.sample_rate, chunk.pts = 48000, start
                chunk.time_base = Fraction(1, 48000)
                output.mux(sound.encode(chunk))
            output.mux(sound.encode(None))
    return path


def decoded_frames(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def audio_seconds(path: Path) -> float:
    """Seconds of decoded audio samples (first audio stream)."""
    import av

    with av.open(str(path)) as container:
        frames = list(container.decode(audio=0))
        return sum(f.samples for f in frames) / frames[0].sample_rate
