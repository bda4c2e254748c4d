"""A minimal HTTP/1.1 keep-alive client for plain `http://` endpoints without a proxy.

Local inference servers (vLLM, SGLang, llama.cpp, `alignkit llm serve`) are usually reached
over plain HTTP on a LAN or loopback, where the client's CPU per request bounds throughput:
httpx + httpcore + h11 + anyio spend about 0.7 ms per request, this about a fifth of that.
It speaks just what a JSON POST needs: one request at a time per connection, replies with
Content-Length, chunked transfer encoding or read-to-close bodies, gzip/deflate bodies, and
`Connection: close`. HTTPS and proxies go through httpx (see `OpenAIBackend`).
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Mapping
from urllib.parse import urlsplit

MAX_HEAD_BYTES = 64 * 1024


class HTTPProtocolError(Exception):
    """The server's reply is not valid HTTP/1.1 (or uses something this client does not read)."""


class Reply:
    """A finished reply: status, lower-cased headers, the (decoded) body."""

    __slots__ = ("status", "headers", "content")

    def __init__(self, status: int, headers: dict[str, str], content: bytes) -> None:
        self.status = status
        self.headers = headers
        self.content = content


class Endpoint:
    """The fixed part of every request to one URL, encoded once."""

    def __init__(self, url: str, headers: Mapping[str, str]) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"http1 handles plain http:// URLs only, not {url!r}")
        self.host = parts.hostname
        self.port = parts.port or 80
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        host_header = parts.netloc.rsplit("@", 1)[-1]
        lines = [f"POST {target} HTTP/1.1", f"Host: {host_header}"]
        lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() != "host"]
        self.head_prefix = ("\r\n".join(lines) + "\r\nContent-Length: ").encode("latin-1")

    def request_bytes(self, body: bytes) -> bytes:
        return b"".join((self.head_prefix, str(len(body)).encode(), b"\r\n\r\n", body))


class Connection:
    """One keep-alive connection, opened on first use and re-opened after it is closed."""

    def __init__(self, endpoint: Endpoint, connect_timeout: float, keepalive_expiry: float) -> None:
        self.endpoint = endpoint
        self.connect_timeout = connect_timeout
        self.keepalive_expiry = keepalive_expiry
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._idle_since = 0.0

    async def post(self, body: bytes) -> Reply:
        """Send one POST and read its reply; any error closes the connection and propagates
        (OSError/ConnectionError, asyncio.IncompleteReadError, HTTPProtocolError)."""
        writer = self._writer
        if writer is not None and (
            writer.is_closing() or time.monotonic() - self._idle_since > self.keepalive_expiry
        ):
            self.close()
        if self._writer is None:
            await self._connect()
        assert self._reader is not None and self._writer is not None
        try:
            self._writer.write(self.endpoint.request_bytes(body))
            reply, keep = await _read_reply(self._reader)
        except BaseException:
            self.close()  # the connection's state is unknown (also on cancellation/timeout)
            raise
        if keep:
            self._idle_since = time.monotonic()
        else:
            self.close()
        return reply

    async def _connect(self) -> None:
        self._reader, self._writer = await asyncio.wait_for(
            asyncio.open_connection(
                self.endpoint.host, self.endpoint.port, limit=MAX_HEAD_BYTES * 16
            ),
            self.connect_timeout,
        )

    def close(self) -> None:
        if self._writer is not None:
            self._writer.transport.abort()
        self._reader = self._writer = None


async def _read_reply(reader: asyncio.StreamReader) -> tuple[Reply, bool]:
    while True:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            raise HTTPProtocolError("reply headers too long") from None
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                raise ConnectionResetError("server closed the connection without a reply") from None
            raise
        lines = head[:-4].decode("latin-1").split("\r\n")
        version, _, rest = lines[0].partition(" ")
        code = rest[:3]
        if not version.startswith("HTTP/1.") or not code.isdigit():
            raise HTTPProtocolError(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
        status = int(code)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise HTTPProtocolError(f"bad header line: {line[:80]!r}")
            headers[name.strip().lower()] = value.strip()
        if 100 <= status < 200:
            continue  # an interim reply (100 Continue, 103 Early Hints): the real one follows
        break
    connection = headers.get("connection", "").lower()
    keep = connection != "close" and (version == "HTTP/1.1" or connection == "keep-alive")
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = await _read_chunked(reader)
    elif "content-length" in headers:
        try:
            length = int(headers["content-length"])
        except ValueError:
            raise HTTPProtocolError("bad Content-Length") from None
        body = await reader.readexactly(length) if length > 0 else b""
    elif status in (204, 304):
        body = b""
    else:
        body = await reader.read()  # delimited by the connection's end
        keep = False
    encoding = headers.get("content-encoding", "identity").lower()
    if encoding in ("gzip", "x-gzip", "deflate"):
        # 47: a gzip or zlib header, detected; -15: raw deflate, which some servers send
        for wbits in (47, -zlib.MAX_WBITS):
            try:
                body = zlib.decompress(body, wbits)
                break
            except zlib.error as exc:
                error = exc
        else:
            raise HTTPProtocolError(f"body does not decode as {encoding}: {error}")
    elif encoding != "identity":
        raise HTTPProtocolError(f"unsupported Content-Encoding {encoding!r}")
    return Reply(status, headers, body), keep


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        line = await reader.readuntil(b"\r\n")
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise HTTPProtocolError(f"bad chunk size line {line[:40]!r}") from None
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass  # trailers
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        if await reader.readexactly(2) != b"\r\n":
            raise HTTPProtocolError("chunk not followed by CRLF")
