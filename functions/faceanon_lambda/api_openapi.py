"""The API's OpenAPI description, built from the code: the routes (Powertools' ``get_openapi_schema``), the
request fields and options (api.REQUEST_FIELDS, settings.REQUEST_OPTIONS and Settings' defaults) and the error
codes (api.STATUS). ``scripts/make_openapi.py`` writes openapi.yaml; a test fails when the file drifts.

The schema part needs pydantic (Powertools' OpenAPI models), which the development environment has and the
Lambda layer does not: only the text constants below are imported at run time.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api_app import ApiDeps

ANONYMISE_SUMMARY = "Anonymise one photo"
ANONYMISE = (
    "JSON in (base64 `image`), JSON out; or a raw `image/*` body in (send `Accept: image/*` to API Gateway REST), "
    "the anonymised image out with X-Faces-Count, X-Review and X-Model-Sha256. Options as JSON fields or query "
    "parameters (not both for one option). Photos over ~4.4 MB: use POST /jobs."
)
DETECT_SUMMARY = "Find the faces in one photo (nothing masked, no image back)"
DETECT = "The same request as POST /anonymise; the answer is the faces, the image size, the model and timings."
JOBS_SUMMARY = "Start a job for a big photo: a presigned S3 upload"
JOBS = (
    "Returns a job id and a presigned POST (send `fields` as form fields, then the photo as the `file` field, "
    "with the same Content-Type) valid for a few minutes; the upload is anonymised by the upload path."
)
JOB_SUMMARY = "A job's status; when anonymised, its faces and a presigned download"
JOB = "pending (not uploaded or not done yet), anonymised (download), held_for_review (no download) or rejected."


def _json(description: str, ref: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": ref}}}}


_ERROR = "#/components/schemas/Error"
_ERRORS: dict[int, Any] = {
    400: _json("Bad JSON, base64, field, option or query parameter", _ERROR),
    413: _json("Over the API's byte limit (use POST /jobs)", _ERROR),
    415: _json("Content-Type is not application/json or image/*, or the bytes are not an image", _ERROR),
    422: _json("Over the pixel limit", _ERROR),
    500: _json("Internal error (no details)", _ERROR),
}
ANONYMISED: dict[int, Any] = {
    200: {
        "description": "The anonymised photo (JSON, or the image bytes for a raw request)",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/AnonymiseResponse"}},
            "image/*": {"schema": {"type": "string", "format": "binary"}},
        },
    },
    **_ERRORS,
}
DETECTED: dict[int, Any] = {200: _json("The faces found", "#/components/schemas/DetectResponse"), **_ERRORS}
JOB_CREATED: dict[int, Any] = {
    201: _json("The job and its upload", "#/components/schemas/Job"),
    400: _ERRORS[400],
    404: _json("The job flow is not enabled", _ERROR),
    500: _ERRORS[500],
}
JOB_STATE: dict[int, Any] = {
    200: _json("The job's state", "#/components/schemas/JobStatus"),
    400: _ERRORS[400],
    404: JOB_CREATED[404],
    500: _ERRORS[500],
}
IMAGE_ROUTES = ("/anonymise", "/detect")


def placeholder_deps() -> "ApiDeps":
    """Routes to describe, not to call (openapi.yaml generation): nothing here is ever invoked."""
    from faceanon.settings import Settings

    from .api_app import ApiDeps
    from .api_config import ApiConfig
    from .config import LambdaConfig

    def never(*_: object) -> Any:
        raise RuntimeError("placeholder dependency called")

    return ApiDeps(Settings(), LambdaConfig(), ApiConfig(), never, never, None, never)
