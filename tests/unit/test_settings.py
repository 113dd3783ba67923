import pytest

from faceanon.errors import InvalidRequestError
from faceanon.settings import ENV_VARS, Settings


def test_defaults_are_privacy_first() -> None:
    settings = Settings()
    assert settings.method == "fill"
    assert settings.shape == "ellipse"
    assert settings.fill == "#000000"


def test_from_env_reads_every_documented_variable() -> None:
    env = {
        "FACEANON_METHOD": "blur",
        "FACEANON_SHAPE": "box",
        "FACEANON_FILL": "white",
        "FACEANON_MASK_SCALE": "1.5",
        "FACEANON_THRESHOLD": "0.3",
        "FACEANON_DETECTION": "fast",
        "FACEANON_MAX_PIXELS": "1000",
        "FACEANON_MAX_BYTES": "2000",
        "FACEANON_JPEG_QUALITY": "80",
        "FACEANON_PNG_COMPRESS_LEVEL": "9",
        "FACEANON_THREADS": "2",
        "FACEANON_MODEL_PATH": "/opt/model.onnx",
    }
    assert set(env) == set(ENV_VARS)
    settings = Settings.from_env(env)
    assert (settings.method, settings.shape, settings.fill) == ("blur", "box", "#ffffff")
    assert (settings.mask_scale, settings.threshold, settings.detection) == (1.5, 0.3, "fast")
    assert (settings.max_pixels, settings.max_bytes, settings.jpeg_quality) == (1000, 2000, 80)
    assert settings.png_compress_level == 9
    assert (settings.intra_op_threads, settings.model_path) == (2, "/opt/model.onnx")


def test_empty_env_values_keep_defaults() -> None:
    assert Settings.from_env({"FACEANON_METHOD": ""}) == Settings()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"method": "smudge"}, "method"),
        ({"shape": "circle"}, "shape"),
        ({"fill": "purple"}, "fill"),
        ({"mask_scale": 0.1}, "mask_scale"),
        ({"mask_scale": float("nan")}, "mask_scale"),
        ({"threshold": 1.5}, "threshold"),
        ({"threshold": True}, "threshold"),
        ({"threshold": "0.5"}, "threshold"),
        ({"max_pixels": 0}, "max_pixels"),
        ({"jpeg_quality": 101}, "jpeg_quality"),
        ({"png_compress_level": 10}, "png_compress_level"),
        ({"png_compress_level": -1}, "png_compress_level"),
        ({"detection": "slow"}, "detection"),
    ],
)
def test_invalid_values_raise_a_clear_error(changes: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        Settings().override(**changes)


def test_override_ignores_none_and_rejects_unknown_fields() -> None:
    assert Settings().override(method=None) == Settings()
    with pytest.raises(InvalidRequestError, match="unknown setting"):
        Settings().override(colour="red")


def test_non_numeric_env_value_is_a_typed_error() -> None:
    with pytest.raises(InvalidRequestError, match="FACEANON_THRESHOLD"):
        Settings.from_env({"FACEANON_THRESHOLD": "high"})


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(AttributeError):
        settings.method = "blur"  # type: ignore[misc]
