"""`fleetsim view`'s server: serves the bundle read-only and nothing outside it."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import urllib.request

import pytest

from fleetsim import cli
from fleetsim.replay.server import ReplayServer, bundle_dir, resolve_request_path


def raw_get(server, target: str, method: str = "GET") -> tuple[int, dict, bytes]:
    """Send ``target`` exactly as written (no client-side normalisation)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.putrequest(method, target, skip_host=False, skip_accept_encoding=True)
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
