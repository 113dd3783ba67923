"""What the API function needs on top of LambdaConfig: the job flow's bucket, prefix and URL lifetimes, and
CORS. Read once per process from the environment template.yaml sets (names match)."""

import os
from collections.abc import Mapping
from dataclasses import dataclass

from faceanon.errors import InvalidRequestError

MAX_URL_SECONDS = 3600  # presigned URLs signed with the function's role expire with its session anyway


@dataclass(frozen=True)
class ApiConfig:
    input_bucket: str = ""  # where POST /jobs lets clients upload; empty: the job flow is off (404)
    jobs_prefix: str = "jobs/"  # under the upload trigger's prefix, so the queue path anonymises the uploads
    upload_expires: int = 300  # seconds a presigned upload stays valid
    download_expires: int = 300  # seconds a result's presigned download stays valid
    cors_origins: tuple[str, ...] = ()  # empty: no CORS headers, no preflight answers

    def __post_init__(self) -> None:
        if not self.jobs_prefix or not self.jobs_prefix.endswith("/"):
            raise InvalidRequestError("JOBS_PREFIX must be a non-empty prefix ending in /")
        lifetimes = (("JOB_UPLOAD_EXPIRES", self.upload_expires), ("JOB_DOWNLOAD_EXPIRES", self.download_expires))
        for name, seconds in lifetimes:
            if not 1 <= seconds <= MAX_URL_SECONDS:
                raise InvalidRequestError(f"{name} must be in [1, {MAX_URL_SECONDS}] seconds")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "ApiConfig":
        env = os.environ if environ is None else environ
        return cls(
            input_bucket=env.get("INPUT_BUCKET", ""),
            jobs_prefix=env.get("JOBS_PREFIX", "") or cls.jobs_prefix,
            upload_expires=_seconds(env.get("JOB_UPLOAD_EXPIRES", ""), cls.upload_expires),
            download_expires=_seconds(env.get("JOB_DOWNLOAD_EXPIRES", ""), cls.download_expires),
            cors_origins=tuple(o.strip() for o in env.get("API_CORS_ORIGINS", "").split(",") if o.strip()),
        )

    def job_key(self, job_id: str) -> str:
        return f"{self.jobs_prefix}{job_id}"


def _seconds(raw: str, default: int) -> int:
    return int(raw) if raw.strip().isdigit() else default
