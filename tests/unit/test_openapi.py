"""openapi.yaml is generated from the code and committed: these fail when the file drifts from the code."""

from pathlib import Path

import yaml

from faceanon.settings import REQUEST_OPTIONS, Settings
from faceanon_tools.openapi_spec import openapi_document, render

ROOT = Path(__file__).resolve().parents[2]


def test_committed_openapi_is_the_generated_one() -> None:
    committed = (ROOT / "openapi.yaml").read_text()
    assert committed == render(), "openapi.yaml is stale: run .venv/bin/python scripts/make_openapi.py"


def test_openapi_has_every_route_and_option() -> None:
    document = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    assert set(document["paths"]) == {"/anonymise", "/detect", "/jobs", "/jobs/{job_id}"}
    for path in ("/anonymise", "/detect"):
        operation = document["paths"][path]["post"]
        query = {p["name"] for p in operation["parameters"]}
        assert query == {*REQUEST_OPTIONS, "return_boxes"}
        assert {"application/json", "image/*"} == set(operation["requestBody"]["content"])
    schemas = document["components"]["schemas"]
    assert set(REQUEST_OPTIONS) < set(schemas["ImageRequest"]["properties"])
    assert schemas["JpegQuality"]["default"] == Settings().jpeg_quality
    assert "default" not in schemas["Threshold"]  # the strategy's own, not one number (the old file said 0.2)
    assert {"400", "413", "415", "422", "500"} <= set(document["paths"]["/anonymise"]["post"]["responses"])


def test_generation_is_deterministic() -> None:
    assert openapi_document() == openapi_document()
