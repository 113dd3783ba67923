"""One set of per-request options for the CLI, the API and backfill jobs, validated once (Settings.with_options)."""

import pytest

from faceanon import cli_inputs
from faceanon.cli import build_parser
from faceanon.errors import InvalidRequestError
from faceanon.settings import REQUEST_OPTIONS, Settings
from faceanon_lambda.batch import USER_ARGUMENTS, job_settings

OPTIONS = {"method": "blur", "shape": "box", "fill": "white", "mask_scale": "2", "threshold": "0.4",
           "detection": "thorough", "jpeg_quality": "75"}  # fmt: skip
EXPECTED = Settings(method="blur", shape="box", fill="#ffffff", mask_scale=2.0, threshold=0.4, detection="thorough",
                    jpeg_quality=75)  # fmt: skip


def test_every_entry_point_takes_every_option() -> None:
    assert set(OPTIONS) == set(REQUEST_OPTIONS) == set(USER_ARGUMENTS)
    flags = [f"--{name.replace('_', '-')}={value}" for name, value in OPTIONS.items()]
    args = build_parser("anonymise").parse_args(["anonymise", *flags, "x.jpg"])
    assert cli_inputs.settings_for(
        args, method=args.method, shape=args.shape, mask_scale=args.mask_scale, fill=args.fill,
        jpeg_quality=args.jpeg_quality,
    ) == EXPECTED  # fmt: skip
    assert job_settings(Settings(), OPTIONS) == EXPECTED
    assert Settings().with_options(OPTIONS) == EXPECTED


@pytest.mark.parametrize(
    ("options", "typed", "message"),
    [
        ({"jpeg_quality": "7.5"}, False, "jpeg_quality must be an integer"),
        ({"jpeg_quality": 7.5}, True, "jpeg_quality has the wrong type"),
        ({"threshold": "0.5"}, True, "threshold has the wrong type"),
        ({"mask_scale": True}, True, "mask_scale has the wrong type"),
        ({"fill": 3}, True, "fill has the wrong type"),
        ({"max_pixels": "1"}, False, "unknown option max_pixels"),
    ],
)
def test_with_options_rejects(options: dict[str, object], typed: bool, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        Settings().with_options(options, typed=typed)
