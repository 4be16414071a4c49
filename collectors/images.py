"""Turning an image reference (URL, data: URI or local path) into a stored ImageRecord.

Image URLs come from strangers' posts, so fetching refuses what a monitor has no business
reaching: schemes other than http(s); private, loopback and link-local addresses (unless
allowed, for tests); more than a few redirects, each checked like the first; bodies over the
size cap; content types and leading bytes that are not an image format we decode. The address
that was checked is the one connected to (the host name goes in the Host header and TLS SNI),
so a DNS answer that changes between check and connect (DNS rebinding) cannot slip through.
Any failure becomes a rejected record; it never loses the post.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import socket
import threading
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx

from collectors.http import USER_AGENT
from data.images import MAX_BYTES, ImageRecord, rejected, store_image

MAX_REDIRECTS = 3
DEADLINE_S = 30.0  # the most one fetch (all redirects, headers and body) may take
NAT64 = ipaddress.ip_network("64:ff9b::/96")
IMAGE_FORMATS = "PNG, JPEG, GIF, WebP or BMP"
# Content types a CDN may send for an image; the leading bytes decide in the end.
IMAGE_TYPES = ("image/", "application/octet-stream", "binary/octet-stream")

__all__ = ["USER_AGENT", "FetchError", "ImageFetcher", "resolve_image", "sniff"]


class FetchError(Exception):
    pass


def sniff(data: bytes) -> str | None:
    """The image format the leading bytes announce, or None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:2] == b"BM":
        return "bmp"
    return None


class ImageFetcher:
    """GETs images from untrusted URLs. One per source, so connections are reused.

    `allow_private`: True lets any address through (trusted setups); an iterable of IP
    addresses lets only those through (tests serve images from 127.0.0.1)."""

    def __init__(self, *, allow_private: bool | Iterable[str] = False,
                 max_bytes: int = MAX_BYTES, max_redirects: int = MAX_REDIRECTS,
                 timeout_s: float = 10.0, deadline_s: float = DEADLINE_S,
                 user_agent: str = USER_AGENT):
        self.allow_any = allow_private is True
        self.allowed = frozenset() if isinstance(allow_private, bool) else \
            frozenset(str(ipaddress.ip_address(a)) for a in allow_private)
        self.max_bytes, self.max_redirects = max_bytes, max_redirects
        self.deadline_s = deadline_s
        # trust_env=False: a proxy from the environment would connect for us, unchecked.
        self.http = httpx.Client(timeout=timeout_s, headers={"User-Agent": user_agent},
                                 follow_redirects=False, trust_env=False)

    def close(self) -> None:
        self.http.close()

    def fetch(self, url: str) -> bytes:
        """The image bytes at `url`, following at most max_redirects redirects, within
        deadline_s in all."""
        deadline = _Deadline(self.deadline_s)
        try:
            return self._fetch(url, deadline)
        except FetchError:
            if deadline.expired:
                raise FetchError(f"took longer than {self.deadline_s:g} s: "
                                 f"{_short(url)}") from None
            raise
        finally:
            deadline.cancel()

    def _fetch(self, url: str, deadline: _Deadline) -> bytes:
        for _ in range(self.max_redirects + 1):
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise FetchError(f"refused URL {url!r}: only http(s) with a host")
            address = self._checked_address(parts.hostname, parts.port or
                                            (443 if parts.scheme == "https" else 80))
            pinned = httpx.URL(url).copy_with(host=address)
            extensions = {"trace": deadline.trace}
            if parts.scheme == "https":
                extensions["sni_hostname"] = parts.hostname
            request = self.http.build_request("GET", pinned, extensions=extensions,
                                              headers={"Host": parts.netloc.rsplit("@", 1)[-1]})
            try:
                response = self.http.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise FetchError(f"{type(exc).__name__} fetching {_short(url)}") from None
            try:
                deadline.watch(response.extensions.get("network_stream"))
                if response.is_redirect:
                    url = urljoin(url, response.headers.get("location", ""))
                    continue
                if response.status_code != 200:
                    raise FetchError(f"HTTP {response.status_code} from {_short(url)}")
                return self._body(response)
            except httpx.HTTPError as exc:
                raise FetchError(f"{type(exc).__name__} reading {_short(url)}") from None
            finally:
                response.close()
        raise FetchError(f"more than {self.max_redirects} redirects")

    def _checked_address(self, host: str, port: int) -> str:
        """Resolve `host` once and return the address to connect to, refusing names that
        resolve to any non-public address (unless allowed)."""
        try:
            infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError):
            raise FetchError(f"cannot resolve {host}") from None
        addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
        if not addresses:
            raise FetchError(f"cannot resolve {host}")
        for address in addresses:
            judged = embedded_ipv4(address) or address
            if not (judged.is_global or self.allow_any or str(judged) in self.allowed):
                shown = address if judged == address else f"{address} ({judged})"
                raise FetchError(f"refused {host}: {shown} is not a public address")
        return str(addresses[0])


    def _body(self, response: httpx.Response) -> bytes:
        kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind and not kind.startswith(IMAGE_TYPES):
            raise FetchError(f"content type {kind} is not an image")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchError(f"larger than {self.max_bytes} bytes")
        body = bytearray()
        for chunk in response.iter_bytes():
            if not body and sniff(chunk[:12]) is None and len(chunk) >= 12:
                # An HTML error page or a binary that is not an image: stop reading now.
                raise FetchError("not an image")
            body.extend(chunk)
            if len(body) > self.max_bytes:
                raise FetchError(f"larger than {self.max_bytes} bytes")
        return bytes(body)


def embedded_ipv4(address: ipaddress.IPv4Address | ipaddress.IPv6Address
                  ) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, compatible, NAT64, 6to4), which
    is where a connection to it ends up; None for other addresses."""
    if address.version == 4:
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    low = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in NAT64 or (int(address) >> 32 == 0 and int(low) > 1):  # ::a.b.c.d
        return low
    return None


class _Deadline:
    """Cuts a fetch's connections when its overall time is up. Sockets are caught as they
    connect (httpcore's trace hook) or, for a reused connection, once its headers arrive."""

    def __init__(self, seconds: float):
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._cut)
        self._timer.daemon = True
        self._timer.start()

    def trace(self, event: str, info: dict) -> None:
        if event == "connection.connect_tcp.complete":
            self.watch(info.get("return_value"))

    def watch(self, stream: object) -> None:
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is not None:
            with self._lock:
                self._sockets.append(sock)
            if self.expired:
                self._cut()

    def _cut(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)  # the blocked read returns at once
                except OSError:
                    pass

    def cancel(self) -> None:
        self._timer.cancel()


def resolve_image(reference: str, data_dir: Path, *, base_dir: Path | None = None,
                  fetcher: ImageFetcher | None = None,
                  allow_private: bool = False) -> ImageRecord:
    """Read the bytes behind `reference` and store them. Local paths are only read when
    `base_dir` is given (trusted callers: the import command, the demo replay, the drop
    folder); URLs go through `fetcher` (a throwaway one when None)."""
    try:
        data = _read(reference, base_dir, fetcher, allow_private)
    except FetchError as exc:
        return rejected(reference, str(exc))
    if sniff(data) is None:  # only formats we mean to decode reach Pillow
        return rejected(reference, "not an image", data)
    return store_image(data_dir, data, reference if not reference.startswith("data:") else None)


def _read(reference: str, base_dir: Path | None, fetcher: ImageFetcher | None,
          allow_private: bool) -> bytes:
    if reference.startswith("data:"):
        return _data_uri(reference)
    scheme = urlsplit(reference).scheme.lower()
    if scheme in ("http", "https"):
        if fetcher is None:
            own = ImageFetcher(allow_private=allow_private)
            try:
                return own.fetch(reference)
            finally:
                own.close()
        return fetcher.fetch(reference)
    if scheme and len(scheme) > 1:  # a one-letter "scheme" is a Windows drive
        raise FetchError(f"unsupported scheme {scheme!r}")
    if base_dir is None:
        raise FetchError("local paths are not accepted here; send a URL or a data: URI")
    path = (base_dir / reference).expanduser()
    try:
        if path.stat().st_size > MAX_BYTES:
            raise FetchError(f"larger than {MAX_BYTES} bytes")
        return path.read_bytes()
    except OSError as exc:
        raise FetchError(f"cannot read {path}: {exc.strerror or exc}") from None


def _data_uri(reference: str) -> bytes:
    header, _, payload = reference.partition(",")
    if ";base64" not in header:
        raise FetchError("data: URI must be base64-encoded")
    if len(payload) > MAX_BYTES * 4 // 3 + 4:
        raise FetchError(f"larger than {MAX_BYTES} bytes")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise FetchError("data: URI is not valid base64") from None


def _short(url: str) -> str:
    """The URL without its query: image URLs can carry signed tokens."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"
