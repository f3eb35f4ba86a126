"""Errors of the model server, each mapped to the HTTP status the Open Inference Protocol gives it.

The tree (405, 413 and 431 come from modelplane.net.errors, shared with every HTTP server):

- ServerError (500), a modelplane.net.errors.HttpError
  - InvalidInput (400): malformed JSON, wrong shape, datatype or input name
  - ModelNotFound (404): unknown model or version
  - NotReady (503): model loading, server shutting down
  - InferenceError (500): the model raised; carries the model's message
  - Unsupported (501): a protocol feature this server does not implement
- ModelLoadError: a loader could not load a model (not an HTTP error: the server fails to start,
  with this message)
"""

from __future__ import annotations

from modelplane.net.errors import HeadersTooLarge, HttpError, MethodNotAllowed, PayloadTooLarge

__all__ = [
    "HeadersTooLarge",
    "InferenceError",
    "InvalidInput",
    "MethodNotAllowed",
    "ModelLoadError",
    "ModelNotFound",
    "NotReady",
    "PayloadTooLarge",
    "ServerError",
    "Unsupported",
]


class ServerError(HttpError):
    status = 500


class InvalidInput(ServerError):
    status = 400


class ModelNotFound(ServerError):
    status = 404


class NotReady(ServerError):
    status = 503


class InferenceError(ServerError):
    status = 500


class Unsupported(ServerError):
    status = 501


class ModelLoadError(Exception):
    """A model could not be loaded. The message says which model, from where, why, and what to do."""

    def __init__(self, message: str, *, model: str, uri: str | None) -> None:
        super().__init__(message)
        self.model = model
        self.uri = uri
