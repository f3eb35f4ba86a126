"""API errors: each has the HTTP status and the `reason` a Kubernetes user expects.

ApiError (500, InternalError)
├── BadRequest (400, BadRequest)      malformed body or query
├── Unauthorized (401, Unauthorized)  no bearer token off loopback
├── Forbidden (403, Forbidden)        wrong token; deleting `default`; applying into a terminating namespace
├── NotFound (404, NotFound)
├── Conflict (409, Conflict)          stale resourceVersion; already exists; `scale` when autoscaled
├── Gone (410, Expired)               a watch asked for changes older than what is kept
└── Invalid (422, Invalid)            schema violation; `details` lists every error with its path
"""

from __future__ import annotations

from collections.abc import Sequence

from modelplane.net.errors import HttpError


class ApiError(HttpError):
    status = 500
    reason = "InternalError"

    def __init__(self, message: str, *, details: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.details = list(details)


class BadRequest(ApiError):
    status = 400
    reason = "BadRequest"


class Unauthorized(ApiError):
    status = 401
    reason = "Unauthorized"


class Forbidden(ApiError):
    status = 403
    reason = "Forbidden"


class NotFound(ApiError):
    status = 404
    reason = "NotFound"


class Conflict(ApiError):
    status = 409
    reason = "Conflict"


class Gone(ApiError):
    status = 410
    reason = "Expired"


class TooManyRequests(ApiError):
    status = 429
    reason = "TooManyRequests"


class Invalid(ApiError):
    status = 422
    reason = "Invalid"
