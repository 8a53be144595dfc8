"""`optionsv4 data fetch-span`: NSE's SPAN file downloaded on request only — from a local server standing in for NSE
(the real file's zip packaging), and a clear message when NSE cannot be reached."""

import http.server
import io
import socket
import threading
import zipfile
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from optionsv4_lib.cli.main import app
from optionsv4_lib.config import settings as current_settings
from optionsv4_lib.marketdata import span_file
from optionsv4_lib.marketdata.span_file import read_span_file

FIXTURE = Path(__file__).parents[1] / "fixtures" / "nsccl.20261204.s.spn"


@pytest.fixture
def nse():
    """A local HTTP server answering /nsccl.YYYYMMDD.s.zip with the fixture zipped (404 for other days)."""
    payload = io.BytesIO()
    with zipfile.ZipFile(payload, "w") as archive:
        archive.write(FIXTURE, FIXTURE.name)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            found = self.path == "/nsccl.20261204.s.zip"
            self.send_response(200 if found else 404)
            self.end_headers()
            self.wfile.write(payload.getvalue() if found else b"<html>not found</html>")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def fetch(monkeypatch, tmp_path, url: str, day: str):
    monkeypatch.setattr(span_file, "SPAN_URL", url + "/nsccl.{day:%Y%m%d}.s.zip")
    monkeypatch.setenv("OPTIONSV4_SPAN_DIR", str(tmp_path / "span"))
    current_settings.cache_clear()
    try:
        return CliRunner().invoke(app, ["data", "fetch-span", "--date", day])
    finally:
        current_settings.cache_clear()


def test_fetch_span_saves_the_days_file_where_the_margin_finds_it(monkeypatch, tmp_path, nse):
    ran = fetch(monkeypatch, tmp_path, nse, "2026-12-04")
    assert ran.exit_code == 0, ran.output
    saved = span_file.span_file_for(date(2026, 12, 4), tmp_path / "span")
    assert saved is not None and read_span_file(saved).business_date == date(2026, 12, 4)


def test_a_day_nse_does_not_have_and_an_unreachable_nse_are_named(monkeypatch, tmp_path, nse):
    missing = fetch(monkeypatch, tmp_path, nse, "2026-12-05")
    assert missing.exit_code == 2 and "could not download" in missing.output and "404" in missing.output
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    down = fetch(monkeypatch, tmp_path, closed, "2026-12-04")
    assert down.exit_code == 2 and "is NSE reachable from here?" in down.output
    bad_date = fetch(monkeypatch, tmp_path, nse, "04-12-2026")
    assert bad_date.exit_code == 2 and "date" in bad_date.output
