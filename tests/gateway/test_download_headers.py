"""What a download is served as: data, never a page of the gateway's origin."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from gateway.downloads import safe_headers


@dataclass
class Given:
    content_type: str
    filename: str | None = "f.bin"
    disposition: str | None = "attachment"
    content_length: int | None = None


@pytest.mark.parametrize("media", [
    "text/html", "TEXT/HTML; charset=utf-8", "image/svg+xml", "application/xml", "text/xml",
    "application/xhtml+xml", "application/rss+xml", "text/javascript", "application/javascript",
    "application/ecmascript", "text/css", "application/pdf", "application/x-shockwave-flash",
    "text/xsl", "multipart/x-mixed-replace;boundary=a", "image/svg", "text/vtt",
    "", "nonsense", "text/html\x00", "image/png, text/html", "application/wasm",
])
def test_active_types_are_attachments_of_no_type(media: str) -> None:
    headers = safe_headers(Given(media, disposition="inline"))
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["Content-Disposition"] == 'attachment; filename="f.bin"'
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Security-Policy"].startswith("sandbox")


@pytest.mark.parametrize(("media", "served"), [
    ("image/png", "image/png"), ("IMAGE/JPEG", "image/jpeg"), ("audio/mpeg", "audio/mpeg"),
    ("video/mp4", "video/mp4"), ("application/zip", "application/zip"),
    ("text/plain; charset=utf-8", "text/plain; charset=utf-8"),
    ("text/plain; charset=\"utf-8\"; x=\"\\r\\n\"", "text/plain; charset=utf-8"),
    ("application/json; charset=utf-8", "application/json"),
])
def test_passive_types_keep_their_type(media: str, served: str) -> None:
    headers = safe_headers(Given(media, disposition="inline", content_length=5))
    assert headers["Content-Type"] == served and headers["Content-Length"] == "5"
    assert headers["Content-Disposition"] == 'inline; filename="f.bin"'
    assert headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(("name", "disposition"), [
    (None, 'attachment; filename="download"'),
    ("model.zip", 'attachment; filename="model.zip"'),
    ('a"b\\c/d;e.txt', "attachment; filename=\"a_b_c_d_e.txt\"; "
                      "filename*=UTF-8''a%22b%5Cc%2Fd%3Be.txt"),
    ("résumé.pdf", "attachment; filename=\"r_sum_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"),
    ("x\r\nSet-Cookie: a=b", "attachment; filename=\"x__Set-Cookie_ a_b\"; "
                            "filename*=UTF-8''x%0D%0ASet-Cookie%3A%20a%3Db"),
])
def test_file_names_cannot_break_the_header(name: str | None, disposition: str) -> None:
    headers = safe_headers(Given("application/zip", filename=name))
    assert headers["Content-Disposition"] == disposition
    for value in headers.values():
        value.encode("latin-1")
        assert "\r" not in value and "\n" not in value
