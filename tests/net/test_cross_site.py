"""The checks every modelplane server makes against requests a web page could send (pure)."""

from __future__ import annotations

import pytest

from modelplane.net.cross_site import (
    CrossSiteRequest,
    UnsupportedMediaType,
    check_browser_request,
    is_json_media_type,
)


@pytest.mark.parametrize("origin", [b"https://evil.example", b"null", b"http://127.0.0.1:8080"])
def test_any_origin_is_refused_with_403(origin: bytes) -> None:
    with pytest.raises(CrossSiteRequest, match="requests from web pages are refused") as refused:
        check_browser_request({b"origin": origin}, b"application/json", b"{}")
    assert refused.value.status == 403
    assert origin.decode() in str(refused.value)


@pytest.mark.parametrize(
    ("content_type", "json"),
    [
        (None, True),
        (b"application/json", True),
        (b"Application/JSON; charset=utf-8", True),
        (b"application/vnd.kserve+json", True),
        (b"text/plain", False),
        (b"text/plain;charset=UTF-8", False),
        (b"application/x-www-form-urlencoded", True),  # curl -d; browsers are refused by header
        (b"multipart/form-data; boundary=----x", False),
        (b"text/json+plain", False),
        (b"", False),
    ],
)
def test_only_json_curl_or_no_content_type_is_json(content_type: bytes | None, json: bool) -> None:
    assert is_json_media_type(content_type) is json
    if json:
        check_browser_request({}, content_type, b"{}")
    else:
        with pytest.raises(UnsupportedMediaType, match="not JSON") as refused:
            check_browser_request({}, content_type, b"{}")
        assert refused.value.status == 415


def test_a_request_without_a_body_is_not_judged_by_its_content_type() -> None:
    check_browser_request({b"host": b"127.0.0.1"}, b"text/plain", b"")


@pytest.mark.parametrize("site", [b"cross-site", b"same-site", b"same-origin"])
def test_a_browser_fetch_without_origin_is_refused_by_sec_fetch_site(site: bytes) -> None:
    with pytest.raises(CrossSiteRequest, match="Sec-Fetch-Site") as refused:
        check_browser_request({b"sec-fetch-site": site}, b"application/x-www-form-urlencoded", b"{}")
    assert refused.value.status == 403


def test_an_address_the_user_typed_is_not_a_web_page() -> None:
    check_browser_request({b"sec-fetch-site": b"none"}, None, b"")
