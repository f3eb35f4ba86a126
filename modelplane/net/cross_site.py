"""Refuse what a web page could make a browser send to a modelplane server (API, router, model server).

These servers listen on the user's machine (or a cluster network) without authentication on
loopback, serve no web pages and answer no CORS preflight. A page the user visits could still make
their browser send them requests: a form or `fetch` POST to http://127.0.0.1:8080/... goes out
without a preflight when its content type is one of the "simple" ones (text/plain,
application/x-www-form-urlencoded, multipart/form-data); the page cannot read the answer, but the
request runs (an inference, an apply). Two checks close that, shared by every server:

- Browsers add `Origin` to every cross-site request and to every POST (fetch or form), and since
  2020 `Sec-Fetch-Site` to every request. No modelplane client sends either (the CLI, curl, Python's
  urllib and http.client do not), so a request that carries an `Origin` not in the server's allowed
  set, or a `Sec-Fetch-Site` other than `none` (an address the user typed), is refused with 403. The
  allowed set is empty today.
- A body is read as JSON when its `Content-Type` says so (`application/json` or
  `application/*+json`), says nothing, or is `application/x-www-form-urlencoded` — what `curl -d` and
  Python's urllib send by default, which a browser can only send with the headers refused above.
  `text/plain` and `multipart/form-data` (and every other type) are refused with 415 before the body
  is parsed, so a page's text or multipart body is never read as JSON.

The router and the model server make both checks on every request. The control-plane API makes the
first on loopback (its apply takes YAML bodies; off loopback every request needs a bearer token, which
a page cannot add without a preflight the API never answers).
"""

from __future__ import annotations

from collections.abc import Mapping

from modelplane.net.errors import HttpError

WEB_PAGE_REFUSED = "requests from web pages are refused; use the modelplane CLI or an HTTP client."


class CrossSiteRequest(HttpError):
    status = 403


class UnsupportedMediaType(HttpError):
    status = 415


def check_origin(headers: Mapping[bytes, bytes], *, allowed: frozenset[bytes] = frozenset()) -> None:
    """403 when the request carries an `Origin` not in `allowed`, or a browser's `Sec-Fetch-Site`."""
    origin = headers.get(b"origin")
    if origin is not None and origin not in allowed:
        shown = origin.decode(errors="replace")[:200]
        raise CrossSiteRequest(f"{WEB_PAGE_REFUSED[:-1]} (Origin: {shown!r}).")
    fetch_site = headers.get(b"sec-fetch-site")
    if fetch_site is not None and fetch_site.strip().lower() != b"none":
        shown = fetch_site.decode(errors="replace")[:50]
        raise CrossSiteRequest(f"{WEB_PAGE_REFUSED[:-1]} (Sec-Fetch-Site: {shown!r}).")


def is_json_media_type(content_type: bytes | None) -> bool:
    """True for no content type, application/json, application/*+json and curl -d's
    application/x-www-form-urlencoded (parameters ignored)."""
    if content_type is None or content_type == b"application/json":  # what nearly every client sends
        return True
    media = content_type.split(b";", 1)[0].strip().lower()
    return media in (b"application/json", b"application/x-www-form-urlencoded") or (
        media.startswith(b"application/") and media.endswith(b"+json")
    )


def check_json_body(content_type: bytes | None, body: bytes) -> None:
    """415 when a non-empty body declares a content type other than JSON."""
    if body and not is_json_media_type(content_type):
        shown = (content_type or b"").decode(errors="replace")[:100]
        raise UnsupportedMediaType(
            f"the body's Content-Type is {shown!r}, not JSON; send 'Content-Type: application/json' "
            "(curl -d sends a type that is accepted)."
        )


def check_browser_request(headers: Mapping[bytes, bytes], content_type: bytes | None, body: bytes) -> None:
    """Both checks, in the order a refusal is most useful: a web page first, then the body's type."""
    check_origin(headers)
    check_json_body(content_type, body)
