"""AWS-side configuration (buckets, prefixes, API limits), read once per process from the environment.

Image settings (method, shape, threshold, ...) are faceanon's own ``Settings`` (FACEANON_* variables); this
object holds only what the Lambda adapters need on top of them.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass

from faceanon.errors import InvalidRequestError

# Lambda's synchronous invoke payload limit is 6 MB for the request and for the response. A base64 JSON
# body costs 4/3 of the image, so ~4.4 MB of image bytes is the most that fits with room for headers.
LAMBDA_PAYLOAD_LIMIT = 6 * 1024 * 1024
DEFAULT_API_MAX_BYTES = 4_400_000


@dataclass(frozen=True)
class LambdaConfig:
    output_bucket: str = ""
    output_prefix: str = "anonymised/"
    audit_prefix: str = "audit/"
    api_max_bytes: int = DEFAULT_API_MAX_BYTES
    metrics_namespace: str = "FaceAnon"
    # One per function in template.yaml (faceanon-upload, -api, -backfill): the metrics' service dimension.
    service_name: str = "faceanon"
    # Review hold: flagged results (review true) go under review_prefix, unpublished, until a reviewer acts.
    review_hold: bool = False
    review_prefix: str = "review/"
    event_bus: str = ""  # EventBridge bus the upload path announces results on; empty: announce nothing

    def __post_init__(self) -> None:
        prefixes = {"OUTPUT_PREFIX": self.output_prefix, "AUDIT_PREFIX": self.audit_prefix}
        prefixes["REVIEW_PREFIX"] = self.review_prefix
        names = list(prefixes)
        for number, first in enumerate(names):
            for second in names[number + 1 :]:
                a, b = prefixes[first], prefixes[second]
                if a.startswith(b) or b.startswith(a):
                    raise InvalidRequestError(f"{first} and {second} must not overlap")
        if not self.audit_prefix:
            raise InvalidRequestError("AUDIT_PREFIX must not be empty")
        if not self.review_prefix:
            raise InvalidRequestError("REVIEW_PREFIX must not be empty")
        if not 1 <= self.api_max_bytes <= LAMBDA_PAYLOAD_LIMIT:
            raise InvalidRequestError("API_MAX_BYTES must be in [1, 6 MiB]")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "LambdaConfig":
        env = os.environ if environ is None else environ
        max_bytes = env.get("API_MAX_BYTES", "")
        return cls(
            output_bucket=env.get("OUTPUT_BUCKET", ""),
            output_prefix=env.get("OUTPUT_PREFIX", cls.output_prefix),
            audit_prefix=env.get("AUDIT_PREFIX", cls.audit_prefix),
            api_max_bytes=int(max_bytes) if max_bytes.isdigit() else DEFAULT_API_MAX_BYTES,
            metrics_namespace=env.get("POWERTOOLS_METRICS_NAMESPACE", cls.metrics_namespace),
            service_name=env.get("POWERTOOLS_SERVICE_NAME") or cls.service_name,
            review_hold=_flag(env.get("REVIEW_HOLD", ""), "REVIEW_HOLD"),
            review_prefix=env.get("REVIEW_PREFIX", cls.review_prefix),
            event_bus=env.get("EVENT_BUS_NAME", cls.event_bus),
        )

    def output_key(self, source_key: str) -> str:
        return f"{self.output_prefix}{source_key}"

    def audit_key(self, source_key: str) -> str:
        return f"{self.audit_prefix}{source_key}.json"

    def review_key(self, source_key: str) -> str:
        return f"{self.review_prefix}{source_key}"


def _flag(raw: str, name: str) -> bool:
    value = raw.strip().lower()
    if value in {"", "false", "0", "no", "off"}:
        return False
    if value in {"true", "1", "yes", "on"}:
        return True
    raise InvalidRequestError(f"{name} must be true or false")
