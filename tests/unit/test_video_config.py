"""VideoConfig: the video function's settings from the environment, validated once."""

import pytest

from faceanon.errors import InvalidRequestError
from faceanon_lambda.video_config import VideoConfig


def test_defaults_when_unset() -> None:
    config = VideoConfig.from_env({})
    assert config == VideoConfig()
    assert config.segment_seconds == 20.0
    assert config.detect_every == 1


def test_values_from_the_environment() -> None:
    config = VideoConfig.from_env(
        {
            "VIDEO_WORK_BUCKET": "work",
            "VIDEO_WORK_PREFIX": "jobs/",
            "VIDEO_SEGMENT_SECONDS": "12.5",
            "VIDEO_MAX_SECONDS": "600",
            "VIDEO_DETECT_EVERY": "3",
        }
    )
    assert (config.work_bucket, config.segment_seconds, config.max_seconds, config.detect_every) == (
        "work",
        12.5,
        600.0,
        3,
    )


@pytest.mark.parametrize(
    "environ",
    [
        {"VIDEO_SEGMENT_SECONDS": "0"},
        {"VIDEO_SEGMENT_SECONDS": "nan"},
        {"VIDEO_SEGMENT_SECONDS": "ten"},
        {"VIDEO_MAX_SECONDS": "-1"},
        {"VIDEO_DETECT_EVERY": "0"},
        {"VIDEO_WORK_PREFIX": "jobs"},
        {"VIDEO_WORK_PREFIX": ""},
    ],
)
def test_bad_values_are_refused_at_start(environ: dict[str, str]) -> None:
    with pytest.raises(InvalidRequestError):
        VideoConfig.from_env(environ)
