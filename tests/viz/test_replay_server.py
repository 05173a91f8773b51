"""`fleetsim view`'s server: serves the bundle read-only and nothing outside it."""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from fleetsim import cli
from fleetsim.replay.server import (
    DEFAULT_PORT,
    IDLE_TIMEOUT_S,
    PORT_TRIES,
    ReplayServer,
    bundle_dir,
    host_allowed,
    resolve_request_path,
)


def raw_get(server, target: str, method: str = "GET") -> tuple[int, dict, bytes]:
    """Send ``target`` exactly as written (no client-side normalisation), with the
    server's own address as ``Host`` (http.client would take an absolute target's)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", f"127.0.0.1:{server.port}")
        conn.endheaders()
        res = conn.getresponse()
        return res.status, dict(res.getheaders()), res.read()
    finally:
        conn.close()


@pytest.fixture()
def secret(run_dir):
    """A file next to the bundle (in the run directory) that must stay out of reach."""
    path = run_dir / "secret.txt"
    path.write_text("do not serve\n")
    yield path
    path.unlink()


@pytest.mark.parametrize("target", [
    "/../secret.txt", "/../manifest.json", "/js/../../secret.txt", "/./index.html",
    "/%2e%2e/secret.txt", "/%2E%2E/%2e%2e/etc/passwd", "/..%2fsecret.txt", "/js%2f..%2f..%2fsecret.txt",
    "/..%5csecret.txt", "/..\\secret.txt", "/index.html%00.png", "/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "http://example.com/index.html", "../secret.txt",
])
def test_paths_leaving_the_bundle_are_forbidden(server, secret, target):
    status, _, body = raw_get(server, target)
    assert status == 403, target
    assert b"do not serve" not in body and b"root:" not in body


@pytest.mark.parametrize("target", [
    "/etc/passwd", "//etc/passwd", "/%2Fetc%2Fpasswd", "/%2fsecret.txt", "///secret.txt",
    "/secret.txt", "/layers", "/nope.js", "/.hidden", "/js/.x", "/C:/Windows/win.ini",
    "/%252e%252e/secret.txt",
])
def test_absolute_and_unknown_paths_are_not_found(server, secret, target):
    status, _, body = raw_get(server, target)
    assert status == 404, target
    assert b"do not serve" not in body


def test_a_symlink_out_of_the_bundle_is_refused(server, secret):
    link = server.root / "escape.txt"
    link.symlink_to(secret)
    try:
        assert raw_get(server, "/escape.txt")[0] == 403
    finally:
        link.unlink()


def test_serves_the_viewer_and_the_bundle_with_their_types(server, bundle):
    for target, ctype in [("/", "text/html"), ("/index.html", "text/html"),
                          ("/js/main.js", "text/javascript"), ("/viewer.css", "text/css"),
                          ("/manifest.json", "application/json"),
                          ("/terrain/hillshade.png", "image/png"),
                          ("/" + bundle.chunks[0]["file"], "application/octet-stream"),
                          ("/index.html?bundle=./", "text/html")]:
        status, headers, body = raw_get(server, target)
        assert status == 200, target
        assert headers["Content-Type"].startswith(ctype)
        assert int(headers["Content-Length"]) == len(body) > 0
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert "default-src 'self'" in headers["Content-Security-Policy"]
    status, headers, body = raw_get(server, "/manifest.json", "HEAD")
    assert status == 200 and body == b"" and int(headers["Content-Length"]) > 0


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_read_only(server, method):
    status, headers, _ = raw_get(server, "/manifest.json", method)
    assert status == 405 and headers["Allow"] == "GET, HEAD"


def test_binds_to_loopback_by_default(run_dir):
    with ReplayServer(run_dir / "replay") as srv:
        assert srv.httpd.server_address[0] == "127.0.0.1"
        assert srv.url == f"http://127.0.0.1:{srv.port}/"


def test_resolve_request_path_directly(run_dir):
    root = (run_dir / "replay").resolve()
    assert resolve_request_path(root, "/") == root / "index.html"
    assert resolve_request_path(root, "/js/main.js?x=1#y") == root / "js" / "main.js"


def test_bundle_dir_accepts_the_run_or_the_bundle_and_explains_a_missing_one(run_dir, tmp_path):
    assert bundle_dir(run_dir) == run_dir / "replay"
    assert bundle_dir(run_dir / "replay") == run_dir / "replay"
    (tmp_path / "run").mkdir()
    with pytest.raises(Exception, match="fleetsim replay"):
        bundle_dir(tmp_path / "run")


def test_cli_view_of_a_run_without_a_bundle_fails_cleanly(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    assert cli.main(["view", str(tmp_path / "run"), "--no-browser"]) == 2
    assert "no replay bundle" in capsys.readouterr().err


def test_cli_view_prints_the_url_and_serves_the_bundle(run_dir):
    proc = subprocess.Popen([sys.executable, "-m", "fleetsim.cli", "view", str(run_dir),
                             "--no-browser", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/")
        with urllib.request.urlopen(url + "manifest.json", timeout=5) as res:
            assert b"fleetsim-replay" in res.read()
        with urllib.request.urlopen(url, timeout=5) as res:
            assert b"<canvas" in res.read()
    finally:
        proc.send_signal(signal.SIGINT)
        try:  # generous: a loaded CI machine can be slow to schedule the process
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert "read-only" in proc.stderr.read()


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX only")
def test_an_explicit_busy_port_is_an_error(run_dir):
    with ReplayServer(run_dir / "replay") as busy:
        with pytest.raises(OSError):
            ReplayServer(run_dir / "replay", port=busy.port)


# ------------------------------------------------------------ fleetsim view with no flags

def start_view(run_dir, *extra):
    """``fleetsim view RUN_DIR --no-browser ...`` in a subprocess; (process, URL)."""
    proc = subprocess.Popen([sys.executable, "-m", "fleetsim.cli", "view", str(run_dir),
                             "--no-browser", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, proc.stdout.readline().strip()


def stop_view(proc) -> str:
    """SIGINT the view; its stderr (it must exit 0)."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    err = proc.stderr.read()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    return err


def test_cli_view_without_a_port_serves_on_the_default_port_or_the_next_free_one(run_dir):
    proc, url = start_view(run_dir)
    try:
        assert url.startswith("http://127.0.0.1:") and url.endswith("/"), url
        port = int(url.rsplit(":", 1)[1].rstrip("/"))
        # 8765 itself unless another program on this machine holds it
        assert DEFAULT_PORT <= port <= DEFAULT_PORT + PORT_TRIES
        with urllib.request.urlopen(url + "manifest.json", timeout=5) as res:
            assert b"fleetsim-replay" in res.read()
    finally:
        err = stop_view(proc)
    assert "read-only" in err
    assert (f"port {DEFAULT_PORT} is taken; using {port}" in err) == (port != DEFAULT_PORT)


def test_cli_view_moves_to_the_next_free_port_when_the_default_is_taken(run_dir):
    blocker = socket.socket()
    # as the server does: a port in TIME_WAIT (an earlier test's) is not taken
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        try:
            blocker.bind(("127.0.0.1", DEFAULT_PORT))
            blocker.listen()
        except OSError:
            pass  # another program holds it already: just as taken
        proc, url = start_view(run_dir)
        try:
            port = int(url.rsplit(":", 1)[1].rstrip("/"))
            assert DEFAULT_PORT < port <= DEFAULT_PORT + PORT_TRIES, url
            with urllib.request.urlopen(url, timeout=5) as res:
                assert b"<canvas" in res.read()
        finally:
            err = stop_view(proc)
        assert f"fleetsim: port {DEFAULT_PORT} is taken; using {port}\n" in err
    finally:
        blocker.close()


def test_open_server_falls_back_to_any_free_port_when_the_range_is_taken(run_dir, monkeypatch):
    import fleetsim.replay.server as srv_mod

    with ReplayServer(run_dir / "replay") as busy:
        monkeypatch.setattr(srv_mod, "PORT_TRIES", 0)
        with srv_mod.open_server(busy.root, "127.0.0.1", None, default_port=busy.port) as s:
            assert s.port not in (busy.port, 0)


# ------------------------------------------------------------------- network hardening

@pytest.fixture()
def tiny_root(tmp_path):
    """A bundle-shaped folder with a file larger than any socket buffer."""
    (tmp_path / "index.html").write_text("<!doctype html><canvas></canvas>\n")
    (tmp_path / "big.bin").write_bytes(bytes(8 << 20))
    return tmp_path


def exchange(port: int, data: bytes, wait_s: float = 5.0) -> tuple[bytes, bool]:
    """Send ``data`` on one connection and read until the server closes it or
    ``wait_s`` passes; (everything received, whether the server closed it)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait_s) as s:
        s.sendall(data)
        got = b""
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                return got, False
            if not chunk:
                return got, True
            got += chunk
        return got, False


def statuses(raw: bytes) -> list[int]:
    return [int(m) for m in re.findall(rb"(?m)^HTTP/1\.[01] (\d{3}) ", raw)]


def test_an_idle_connection_is_closed_after_the_timeout(tiny_root):
    with ReplayServer(tiny_root, idle_timeout_s=0.3).start() as srv:
        for data in (b"", b"GET / HTTP/1.1\r\n"):  # silent; stalled inside a request
            t0 = time.monotonic()
            got, closed = exchange(srv.port, data)
            assert closed and got == b"", data
            assert time.monotonic() - t0 < 3.0
        # and between two requests of a kept-alive connection
        got, closed = exchange(srv.port, f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}"
                               "\r\n\r\n".encode())
        assert closed and statuses(got) == [200]


def test_the_idle_timeout_defaults_to_30_s(tiny_root):
    with ReplayServer(tiny_root) as srv:
        assert srv.httpd.RequestHandlerClass.timeout == IDLE_TIMEOUT_S == 30.0


@pytest.mark.parametrize("host, status", [
    ("127.0.0.1:{port}", 200), ("localhost:{port}", 200), ("LOCALHOST:{port}", 200),
    ("[::1]:{port}", 200), ("127.0.0.1", 200), ("10.1.2.3:{port}", 200),
    ("evil.example:{port}", 421), ("evil.example", 421), ("127.0.0.1.evil.example:{port}", 421),
    ("localhost.evil.example", 421), ("[::1", 421), ("127.0.0.1:99999", 421),
    ("127.0.0.1:x", 421), ("user@127.0.0.1", 421), ("", 421),
])
def test_the_host_header_must_name_this_server(server, host, status):
    raw = (f"GET /manifest.json HTTP/1.1\r\nHost: {host.format(port=server.port)}\r\n"
           "Connection: close\r\n\r\n").encode()
    got, closed = exchange(server.port, raw)
    assert statuses(got) == [status] and closed, host
    if status != 200:
        assert b"fleetsim-replay" not in got


@pytest.mark.parametrize("request_head, status", [
    ("GET / HTTP/1.1\r\n\r\n", 400),  # HTTP/1.1 requires Host
    ("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n\r\n", 400),
    ("GET / HTTP/1.0\r\n\r\n", 200),  # HTTP/1.0 may leave it out
])
def test_a_missing_or_doubled_host_header(server, request_head, status):
    got, closed = exchange(server.port, request_head.encode())
    assert statuses(got) == [status] and closed


def test_host_allowed_takes_the_host_option_as_a_name():
    assert host_allowed("viewer.lan:8765", frozenset({"viewer.lan"}))
    assert not host_allowed("viewer.lan.evil.example:8765", frozenset({"viewer.lan"}))
    assert not host_allowed("viewer.lan:8765", frozenset())


SMUGGLED = "GET /manifest.json HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"


@pytest.mark.parametrize("head", [
    "POST /index.html HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {n}\r\n\r\n",
    "PUT /x HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {n}\r\n\r\n",
    "GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {n}\r\n\r\n",
    "POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nTransfer-Encoding: chunked\r\n\r\n",
    "POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {n}\r\n"
    "Expect: 100-continue\r\n\r\n",
], ids=["post", "put", "get-with-body", "chunked-post", "expect-100"])
def test_a_request_body_is_never_read_as_a_second_request(server, head):
    body = SMUGGLED.format(port=server.port)
    if "chunked" in head:
        body = f"{len(body):x}\r\n{body}\r\n0\r\n\r\n"
    data = (head.format(port=server.port, n=len(body)) + body).encode()
    got, closed = exchange(server.port, data)
    assert closed
    codes = statuses(got)
    assert len(codes) == 1 and codes[0] in (200, 405, 417), got[:200]
    assert b"fleetsim-replay" not in got  # the smuggled GET of manifest.json was not served
    assert b"Connection: close" in got


def test_keep_alive_still_serves_several_requests_on_one_connection(server):
    one = f"GET /manifest.json HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n"
    last = one.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n")
    got, closed = exchange(server.port, (one + one + last).encode())
    assert statuses(got) == [200, 200, 200] and closed


def test_a_dropped_connection_prints_no_traceback(tiny_root, capfd):
    with ReplayServer(tiny_root).start() as srv:
        baseline = threading.active_count()
        for _ in range(3):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            s.sendall(f"GET /big.bin HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n\r\n".encode())
            s.recv(1024)  # the response has started
            # close with a reset (SO_LINGER 0), as a browser cancelling a fetch may
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        # the handler threads see the reset on their next write; wait for them (bounded)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and threading.active_count() > baseline:
            time.sleep(0.05)
        assert threading.active_count() == baseline
        ok, _ = exchange(srv.port, f"GET / HTTP/1.1\r\nHost: localhost:{srv.port}\r\n"
                         "Connection: close\r\n\r\n".encode())
        assert statuses(ok) == [200]  # still serving
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Exception occurred" not in err, err
