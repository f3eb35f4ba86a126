"""Errors of the model server, each mapped to the HTTP status the Open Inference Protocol gives it.

ServerError (500)
├── InvalidInput (400)          malformed JSON, wrong shape, datatype or input name
├── ModelNotFound (404)         unknown model or version
├── NotReady (503)              model loading, server shutting down
├── InferenceError (500)        the model raised; carries the model's message
├── PayloadTooLarge (413)       body over the size limit
├── MethodNotAllowed (405)      e.g. GET on an infer path
└── Unsupported (501)           a protocol feature this server does not implement
ModelLoadError                  a loader could not load a model (not an HTTP error: the server
                                fails to start, or the model stays not-ready, with this message)
"""

from __future__ import annotations


class ServerError(Exception):
    status = 500


class InvalidInput(ServerError):
    status = 400


class ModelNotFound(ServerError):
    status = 404


class NotReady(ServerError):
    status = 503


class InferenceError(ServerError):
    status = 500


class PayloadTooLarge(ServerError):
    status = 413


class HeadersTooLarge(ServerError):
    status = 431


class MethodNotAllowed(ServerError):
    status = 405


class Unsupported(ServerError):
    status = 501


class ModelLoadError(Exception):
    """A model could not be loaded. The message says which model, from where, why, and what to do."""

    def __init__(self, message: str, *, model: str, uri: str | None) -> None:
        super().__init__(message)
        self.model = model
        self.uri = uri
