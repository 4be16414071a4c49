"""Image fetching from untrusted URLs: SSRF refusals (before connecting), pinned DNS answers,
limited redirects, size caps, content-type and magic-byte checks, corrupt files and bombs."""

import socket
import struct
import threading
import time
import zlib

import pytest

from collectors.images import FetchError, ImageFetcher, resolve_image
from tests.fixtures.servers import Reply, Server, png

LOCAL = ["127.0.0.1"]


@pytest.fixture
def server():
    running = Server()
    running.route("/cat.png", Reply(200, png("red", (1024, 768)), {"Content-Type": "image/png"}))
    yield running
    running.close()


@pytest.fixture
def fetcher():
    made = []

    def build(**settings):
        made.append(ImageFetcher(**{"timeout_s": 1.0, **settings}))
        return made[-1]

    yield build
    for f in made:
        f.close()


def status(server, fetcher, path, tmp_path, **settings):
    record = resolve_image(server.url + path, tmp_path,
                           fetcher=fetcher(**{"allow_private": LOCAL, **settings}))
    return record.status


def bomb_png() -> bytes:
    """A real PNG header announcing 20000 × 20000 pixels: a decompression bomb's shape."""
    data = bytearray(png())
    ihdr = bytearray(data[16:29])
    ihdr[0:8] = struct.pack(">II", 20_000, 20_000)
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + bytes(ihdr)))
    return bytes(data)


def test_an_image_is_fetched_downscaled_and_stored(server, fetcher, tmp_path):
    record = resolve_image(server.url + "/cat.png", tmp_path,
                           fetcher=fetcher(allow_private=LOCAL))
    assert record.ok and (record.width, record.height) == (512, 384)
    assert (tmp_path / record.path).exists()
    again = resolve_image(server.url + "/cat.png", tmp_path,
                          fetcher=fetcher(allow_private=LOCAL))
    assert again.sha256 == record.sha256  # the same bytes, the same file


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "[::127.0.0.1]",
                                  "[64:ff9b::7f00:1]", "[::ffff:127.0.0.1]"])
def test_private_addresses_are_refused_before_connecting(server, fetcher, tmp_path, host):
    port = server.url.rsplit(":", 1)[1]
    record = resolve_image(f"http://{host}:{port}/cat.png", tmp_path, fetcher=fetcher())
    assert "is not a public address" in record.status or "cannot resolve" in record.status
    assert server.requests == []


def test_a_redirect_to_a_private_address_is_refused(server, fetcher, tmp_path):
    port = server.url.rsplit(":", 1)[1]
    server.route("/r", Reply(302, "", {"Location": f"http://127.0.0.2:{port}/cat.png"}))
    assert status(server, fetcher, "/r", tmp_path) == \
        "rejected: refused 127.0.0.2: 127.0.0.2 is not a public address"
    assert [r.path for r in server.requests] == ["/r"]


def test_redirects_are_followed_a_few_times_only(server, fetcher, tmp_path):
    server.route("/r1", Reply(301, "", {"Location": "/cat.png"}))
    assert status(server, fetcher, "/r1", tmp_path) == "ok"
    for n in range(5):
        server.route(f"/loop{n}", Reply(302, "", {"Location": f"/loop{n + 1}"}))
    assert status(server, fetcher, "/loop0", tmp_path) == "rejected: more than 3 redirects"


def test_huge_images_are_refused_without_reading_them_whole(server, fetcher, tmp_path):
    big = png("red") + b"\0" * 200_000
    server.route("/declared.png", Reply(200, big, {"Content-Type": "image/png"}))
    server.route("/chunked.png", Reply(200, big, {"Content-Type": "image/png"}, chunked=True))
    for path in ("/declared.png", "/chunked.png"):
        assert status(server, fetcher, path, tmp_path, max_bytes=100_000) == \
            "rejected: larger than 100000 bytes"


def test_content_type_and_leading_bytes_must_be_an_image(server, fetcher, tmp_path):
    server.route("/page", Reply(200, "<html>login</html>", {"Content-Type": "text/html"}))
    server.route("/liar.png", Reply(200, "<html>" + " " * 100 + "</html>",
                                    {"Content-Type": "image/png"}))
    server.route("/tiff", Reply(200, b"II*\x00" + b"\0" * 100, {"Content-Type": "image/tiff"}))
    assert status(server, fetcher, "/page", tmp_path) == \
        "rejected: content type text/html is not an image"
    assert status(server, fetcher, "/liar.png", tmp_path) == "rejected: not an image"
    assert status(server, fetcher, "/tiff", tmp_path) == "rejected: not an image"


def test_corrupt_images_and_bombs_are_rejected(server, fetcher, tmp_path):
    server.route("/corrupt.png", Reply(200, b"\x89PNG\r\n\x1a\n" + b"garbage" * 20,
                                       {"Content-Type": "image/png"}))
    server.route("/bomb.png", Reply(200, bomb_png(), {"Content-Type": "image/png"}))
    assert status(server, fetcher, "/corrupt.png", tmp_path).startswith("rejected: corrupt")
    assert status(server, fetcher, "/bomb.png", tmp_path).startswith(
        "rejected: decompression bomb")


def test_http_errors_and_other_schemes_are_rejected(server, fetcher, tmp_path):
    assert status(server, fetcher, "/missing.png", tmp_path).startswith("rejected: HTTP 404")
    for url in ("file:///etc/passwd", "ftp://example.org/x.png", "gopher://x/1"):
        assert resolve_image(url, tmp_path, fetcher=fetcher()).status.startswith(
            "rejected: unsupported scheme")
    with pytest.raises(FetchError, match="only http"):
        fetcher().fetch("http:///no-host")


def test_the_checked_address_is_the_one_connected_to(server, fetcher, tmp_path, monkeypatch):
    """DNS rebinding: a name that answers a safe address for the check and another one for
    the connection. Only one lookup is made, and the request goes to the checked address
    (here 127.0.0.1; the second answer, 127.0.0.2, has no server)."""
    real, answers = socket.getaddrinfo, ["127.0.0.1", "127.0.0.2"]

    def rebinding(host, port, *args, **kwargs):
        if host == "images.test":
            address = answers.pop(0) if len(answers) > 1 else answers[0]
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    port = server.url.rsplit(":", 1)[1]
    record = resolve_image(f"http://images.test:{port}/cat.png", tmp_path,
                           fetcher=fetcher(allow_private=LOCAL))
    assert record.ok
    assert server.hits("/cat.png")[0].headers["host"] == f"images.test:{port}"


@pytest.mark.parametrize("address", ["10.0.0.5", "172.16.3.4", "192.168.1.1",
                                     "169.254.169.254", "100.64.0.1", "0.0.0.0", "fd00::1",
                                     "fe80::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
                                     "::127.0.0.1", "64:ff9b::7f00:1", "64:ff9b::a00:5",
                                     "2002:a00:1::1"])
def test_non_public_address_classes_are_refused(monkeypatch, fetcher, address):
    # only the check runs: nothing connects to these addresses
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, port, *a, **k: [
        (family, socket.SOCK_STREAM, 6, "", (address, port))])
    with pytest.raises(FetchError, match="is not a public address"):
        fetcher()._checked_address("intranet.test", 80)


def test_a_public_address_passes_the_check(monkeypatch, fetcher):
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, port, *a, **k: [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port))])
    assert fetcher()._checked_address("example.org", 443) == "93.184.215.14"


def test_data_uris_still_work_and_are_checked(tmp_path):
    import base64
    good = "data:image/png;base64," + base64.b64encode(png()).decode()
    assert resolve_image(good, tmp_path).ok
    text = "data:image/png;base64," + base64.b64encode(b"plain text, not a picture").decode()
    assert resolve_image(text, tmp_path).status == "rejected: not an image"


def test_a_public_address_behind_nat64_passes(monkeypatch, fetcher):
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, port, *a, **k: [
        (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("64:ff9b::5db8:d70e", port, 0, 0))])
    assert fetcher()._checked_address("example.org", 443) == "64:ff9b::5db8:d70e"


class Drip:
    """A real server on 127.0.0.1 that answers 200 with a PNG and then one byte every
    `every` seconds: each read succeeds well within the read timeout."""

    def __init__(self, every: float, header_drip: bool = False):
        self.every, self.header_drip = every, header_drip
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            conn.recv(65536)
            head = b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 1000\r\n\r\n"
            body = png()
            data = head + body if self.header_drip else body
            if not self.header_drip:
                conn.sendall(head + body[:16])
                data = body[16:]
            for byte in data:
                if self.stop.wait(self.every):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return

    def close(self) -> None:
        self.stop.set()
        self.listener.close()


@pytest.mark.parametrize("header_drip", [False, True])
def test_a_dripping_server_is_cut_at_the_deadline(fetcher, tmp_path, header_drip):
    drip = Drip(every=0.2, header_drip=header_drip)
    try:
        start = time.monotonic()
        record = resolve_image(f"http://127.0.0.1:{drip.port}/slow.png", tmp_path,
                               fetcher=fetcher(allow_private=LOCAL, deadline_s=1.0))
        took = time.monotonic() - start
    finally:
        drip.close()
    assert record.status.startswith("rejected: took longer than 1 s")
    assert took < 2.5  # the whole body would take minutes at this pace
