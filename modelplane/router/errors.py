"""Errors of the router; the HTTP ones carry the status the client gets.

HttpError (modelplane.net.errors, 500)
├── RouteNotFound (404)          no such model, version or path; the message lists what exists
├── NoReadyReplicas (503)        the deployment (version) has no ready replica right now
├── QueueFull (503)              every replica is at its concurrency limit and the queue is full
├── BadGateway (502)             the replica could not be reached or dropped the connection, after retries
└── GatewayTimeout (504)         the replica gave no answer within the response timeout

TableError                       an endpoints table (file or API answer) that cannot be used; the
                                 router keeps the last good table
"""

from __future__ import annotations

from modelplane.net.errors import HttpError


class RouteNotFound(HttpError):
    status = 404


class NoReadyReplicas(HttpError):
    status = 503


class QueueFull(HttpError):
    status = 503


class BadGateway(HttpError):
    status = 502


class GatewayTimeout(HttpError):
    status = 504


class TableError(Exception):
    pass
