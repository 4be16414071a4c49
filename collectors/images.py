"""Turning an image reference (URL, data: URI or local path) into a stored ImageRecord.

Fetching refuses what a monitor has no business reaching: schemes other than http(s), private,
loopback and link-local addresses (unless allowed, for tests), endless redirects and huge
bodies. Any failure becomes a rejected record; it never loses the post.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import socket
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx

from data.images import MAX_BYTES, ImageRecord, rejected, store_image

MAX_REDIRECTS = 3
USER_AGENT = "Subtext/0.1 (self-hosted brand monitor)"


class FetchError(Exception):
    pass


def resolve_image(reference: str, data_dir: Path, *, base_dir: Path | None = None,
                  client: httpx.Client | None = None,
                  allow_private: bool = False) -> ImageRecord:
    """Read the bytes behind `reference` and store them. Local paths are only read when
    `base_dir` is given (the import command); the API accepts URLs and data: URIs only."""
    try:
        data = _read(reference, base_dir, client, allow_private)
    except FetchError as exc:
        return rejected(reference, str(exc))
    return store_image(data_dir, data, reference if not reference.startswith("data:") else None)


def _read(reference: str, base_dir: Path | None, client: httpx.Client | None,
          allow_private: bool) -> bytes:
    if reference.startswith("data:"):
        return _data_uri(reference)
    scheme = urlsplit(reference).scheme.lower()
    if scheme in ("http", "https"):
        if client is None:
            with httpx.Client(timeout=10.0, headers={"User-Agent": USER_AGENT}) as own:
                return fetch(own, reference, allow_private)
        return fetch(client, reference, allow_private)
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


def fetch(client: httpx.Client, url: str, allow_private: bool = False) -> bytes:
    """GET an image, following at most MAX_REDIRECTS redirects, each target checked."""
    for _ in range(MAX_REDIRECTS + 1):
        _check_target(url, allow_private)
        try:
            with client.stream("GET", url, follow_redirects=False) as response:
                if response.is_redirect:
                    url = urljoin(url, response.headers.get("location", ""))
                    continue
                if response.status_code != 200:
                    raise FetchError(f"HTTP {response.status_code} from {url}")
                return _capped_body(response)
        except httpx.HTTPError as exc:
            raise FetchError(f"{type(exc).__name__} fetching {url}") from None
    raise FetchError(f"more than {MAX_REDIRECTS} redirects")


def _capped_body(response: httpx.Response) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BYTES:
        raise FetchError(f"larger than {MAX_BYTES} bytes")
    body = bytearray()
    for chunk in response.iter_bytes():
        body.extend(chunk)
        if len(body) > MAX_BYTES:
            raise FetchError(f"larger than {MAX_BYTES} bytes")
    return bytes(body)


def _check_target(url: str, allow_private: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(f"refused URL {url!r}: only http(s) with a host")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except OSError:
        raise FetchError(f"cannot resolve {parts.hostname}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise FetchError(f"refused {parts.hostname}: {address} is not a public address")
