"""Tiny WARC writer for tests: exact control over every byte, including broken ones."""

from __future__ import annotations

import gzip
import uuid


def http_response(
    body: bytes,
    content_type: str = "text/html; charset=utf-8",
    status: str = "200 OK",
    chunked: bool = False,
) -> bytes:
    headers = [f"HTTP/1.1 {status}", f"Content-Type: {content_type}"]
    if chunked:
        headers.append("Transfer-Encoding: chunked")
        payload = b""
        for i in range(0, len(body), 7):
            piece = body[i : i + 7]
            payload += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
        payload += b"0\r\n\r\n"
    else:
        headers.append(f"Content-Length: {len(body)}")
        payload = body
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + payload


def record(
    block: bytes,
    warc_type: str = "response",
    uri: str = "https://example.org/",
    content_length: int | None = None,
    extra: dict[str, str] | None = None,
) -> bytes:
    rid = uuid.uuid5(uuid.NAMESPACE_URL, uri + warc_type + str(len(block)))
    fields = {
        "WARC-Type": warc_type,
        "WARC-Record-ID": f"<urn:uuid:{rid}>",
        "WARC-Date": "2024-05-18T01:58:42Z",
        "WARC-Target-URI": uri,
        "Content-Type": "application/http; msgtype=response"
        if warc_type == "response"
        else "text/plain",
        **(extra or {}),
        "Content-Length": str(len(block) if content_length is None else content_length),
    }
    head = "WARC/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n"
    return head.encode() + block + b"\r\n\r\n"


def html_page(title: str, body: str, lang: str = "en") -> bytes:
    return (
        f"<!doctype html><html lang='{lang}'><head><title>{title}</title></head>"
        f"<body><p>{body}</p></body></html>"
    ).encode()


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)
