"""HTTP errors every modelplane server shares; each carries its status code.

HttpError (500)
├── MethodNotAllowed (405)
├── RequestTimeout (408)        the request head or body did not arrive in time
├── PayloadTooLarge (413)       body over the server's limit, refused before it is read
└── HeadersTooLarge (431)       request line + headers over 64 KiB
"""

from __future__ import annotations


class HttpError(Exception):
    status = 500


class MethodNotAllowed(HttpError):
    status = 405


class RequestTimeout(HttpError):
    status = 408


class PayloadTooLarge(HttpError):
    status = 413


class HeadersTooLarge(HttpError):
    status = 431
