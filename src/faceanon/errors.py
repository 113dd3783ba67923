"""Domain errors. Callers map them: the API to 4xx/5xx, the queue path re-raises so retries and the DLQ work."""


class FaceAnonError(Exception):
    """Base of every error faceanon raises on purpose. The message is safe to show to a client."""


class InvalidRequestError(FaceAnonError):
    """A parameter or request body is malformed or out of range (HTTP 400)."""


class PayloadTooLargeError(FaceAnonError):
    """The input has more bytes than allowed (HTTP 413)."""


class UnsupportedImageError(FaceAnonError):
    """The bytes are not an image faceanon can decode (HTTP 415)."""


class ImageTooLargeError(FaceAnonError):
    """The image decodes but has more pixels than allowed (HTTP 422)."""


class ModelError(FaceAnonError):
    """The detector model is missing, corrupt or failed at inference (HTTP 500; retried on the queue path)."""


class UnsupportedVideoError(FaceAnonError):
    """The file is not a video faceanon can anonymise safely: truncated, unknown codec, no frames, variable
    frame rate, rotated, HDR/10-bit, or over the limits (HTTP 415/422; a parked rejection on the queue path)."""
