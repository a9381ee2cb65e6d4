"""docs/security.md says gunicorn's default access log records the HTTP Basic username, which Segment's libraries set
to the write key, and gives a format that does not. Both claims, with a real gunicorn: the format is read from the
document, so the two cannot drift apart."""

from __future__ import annotations

import base64
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KEY = "kl_secret-write-key-42"

pytestmark = pytest.mark.services


def documented_format() -> str:
    text = (ROOT / "docs" / "security.md").read_text()
    found = re.search(r"--access-logformat '([^']+)'", text)
    assert found, "docs/security.md no longer shows a gunicorn --access-logformat"
    return found.group(1)


def access_log(tmp_path: Path, *extra: str) -> str:
    """Run gunicorn with these options, send one request with the write key as Basic username; its access log."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path / f"access-{port}.log"
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "tests.services.wsgi_hello:application", "--bind", f"127.0.0.1:{port}",
         "--access-logfile", str(log), *extra],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/ingest/v1/batch", data=b"{}", method="POST")
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{KEY}:".encode()).decode())
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(request, timeout=2).read()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=20)
    return log.read_text()


def test_the_default_access_log_records_the_write_key(tmp_path):
    assert KEY in access_log(tmp_path)


def test_the_documented_access_log_format_does_not(tmp_path):
    text = access_log(tmp_path, "--access-logformat", documented_format())
    assert "POST /ingest/v1/batch" in text and KEY not in text
