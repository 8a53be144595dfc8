"""`optionsv4 data fetch-bhavcopy` against a local HTTP server standing in for NSE's archive (this machine has no
internet): both URL layouts, trading days only, a rerun resumes, 404 is 'missing', 503 is retried, a body that is
not a zip is refused, and a closed port gives a clear message naming what was kept."""

import http.server
import io
import socket
import threading
import zipfile
from datetime import date
from pathlib import Path

import pytest

from optionsv4_lib.adapters.nse_archive import bhavcopy_url, fetch_bhavcopies
from optionsv4_lib.adapters.pacing import RetryPolicy
from optionsv4_lib.core.errors import DataError
from optionsv4_lib.marketdata.bhavcopy import BhavcopyArchive

FOLDER = Path(__file__).parents[1] / "fixtures" / "bhavcopy" / "udiff"
FAST = RetryPolicy(attempts=3, base_delay=0.0, max_delay=0.0)


def zipped(name: str) -> bytes:
    """The fixture of that name (any compression) as NSE serves it: a zip holding the plain .csv."""
    from optionsv4_lib.marketdata.bhavcopy import _decompressed

    source = next(FOLDER.glob(name.removesuffix(".zip") + "*"))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name.removesuffix(".zip"), _decompressed(source))
    return buffer.getvalue()


class Archive(http.server.BaseHTTPRequestHandler):
    """Serves `files` (path → body); `script` (path → list of statuses to answer first); records every path."""

    files: dict[str, bytes] = {}
    script: dict[str, list[int]] = {}
    asked: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.asked.append(self.path)
        queued = self.script.get(self.path)
        if queued:
            self.send_response(queued.pop(0))
            self.send_header("Retry-After", "0")
            self.end_headers()
            return
        body = self.files.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *args):
        pass


@pytest.fixture
def nse():
    Archive.files, Archive.script, Archive.asked = {}, {}, []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Archive)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/content", Archive
    server.shutdown()
    server.server_close()


def test_urls_follow_nse_archive_layouts():
    assert bhavcopy_url(date(2024, 11, 21)) == \
        "https://nsearchives.nseindia.com/content/fo/BhavCopy_NSE_FO_0_0_0_20241121_F_0000.csv.zip"
    assert bhavcopy_url(date(2023, 12, 29), "http://x/content/") == \
        "http://x/content/historical/DERIVATIVES/2023/DEC/fo29DEC2023bhav.csv.zip"


def test_fetch_downloads_trading_days_resumes_and_retries(nse, tmp_path):
    base, archive = nse
    for day in ("20250120", "20250121", "20250122"):
        name = f"BhavCopy_NSE_FO_0_0_0_{day}_F_0000.csv.zip"
        archive.files[f"/content/fo/{name}"] = zipped(name)
    retried = "/content/fo/BhavCopy_NSE_FO_0_0_0_20250121_F_0000.csv.zip"
    archive.script[retried] = [503]
    waits: list[float] = []
    done = fetch_bhavcopies(date(2025, 1, 18), date(2025, 1, 23), tmp_path / "bhav", base_url=base, interval=0.0,
                            retry=FAST, sleep=waits.append)
    # 18–19 Jan are a weekend: never asked; 23 Jan is not on the server: missing
    assert [(f.day, f.status) for f in done] == [(date(2025, 1, 20), "fetched"), (date(2025, 1, 21), "fetched"),
                                                (date(2025, 1, 22), "fetched"), (date(2025, 1, 23), "missing")]
    assert archive.asked.count(retried) == 2  # 503 once, then the file
    assert BhavcopyArchive(tmp_path / "bhav").days() == [date(2025, 1, 20), date(2025, 1, 21), date(2025, 1, 22)]
    assert len(BhavcopyArchive(tmp_path / "bhav").day(date(2025, 1, 22))) > 100

    archive.asked.clear()
    again = fetch_bhavcopies(date(2025, 1, 20), date(2025, 1, 23), tmp_path / "bhav", base_url=base, interval=0.0,
                             retry=FAST, sleep=waits.append)
    assert [f.status for f in again] == ["present", "present", "present", "missing"]
    assert archive.asked == ["/content/fo/BhavCopy_NSE_FO_0_0_0_20250123_F_0000.csv.zip"]  # only what is missing


def test_requests_are_paced(nse, tmp_path):
    base, _ = nse
    waits: list[float] = []
    fetch_bhavcopies(date(2025, 1, 20), date(2025, 1, 22), tmp_path, base_url=base, interval=5.0, retry=FAST,
                     sleep=waits.append)
    # the sleep is recorded, not slept: the 2nd request's slot is 5 s after the 1st, the 3rd's 10 s
    assert waits == [pytest.approx(5.0, abs=0.5), pytest.approx(10.0, abs=0.5)]


def test_a_body_that_is_not_a_zip_is_refused_and_nothing_is_written(nse, tmp_path):
    base, archive = nse
    archive.files["/content/fo/BhavCopy_NSE_FO_0_0_0_20250120_F_0000.csv.zip"] = b"<html>Access Denied</html>"
    with pytest.raises(DataError, match=r"NSE sent something that is not a zip \(b'<html>Access Denied"):
        fetch_bhavcopies(date(2025, 1, 20), date(2025, 1, 20), tmp_path, base_url=base, interval=0.0, retry=FAST)
    assert list(tmp_path.iterdir()) == []


def test_unreachable_nse_is_named_and_what_was_fetched_is_kept(nse, tmp_path):
    base, archive = nse
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/content"
    with pytest.raises(DataError, match=r"cannot reach NSE at http://127.0.0.1:\d+/content/fo/BhavCopy_NSE_FO_0_0_0_"
                                        r"20250120_F_0000.csv.zip .*gave up after 3 attempt\(s\); 0 file\(s\) "
                                        r"fetched before it are kept in .* rerun to resume"):
        fetch_bhavcopies(date(2025, 1, 20), date(2025, 1, 21), tmp_path, base_url=closed, interval=0.0, retry=FAST,
                         sleep=lambda s: None)


def test_the_cli_fetches_and_says_when_nse_is_unreachable(optionsv4, nse, tmp_path, monkeypatch):
    base, archive = nse
    name = "BhavCopy_NSE_FO_0_0_0_20250120_F_0000.csv.zip"
    archive.files[f"/content/fo/{name}"] = zipped(name)
    monkeypatch.setenv("OPTIONSV4_NSE_ARCHIVE_URL", base)
    ran = optionsv4("data", "fetch-bhavcopy", "--from", "2025-01-20", "--to", "2025-01-21", "--dir",
                    str(tmp_path / "bhav"), "--interval", "0")
    assert ran.exit_code == 0, ran.output
    assert "2 trading days in" in ran.output and "1 fetched, 0 already there, 1 not published by NSE" in ran.output
    assert (tmp_path / "bhav" / name).is_file()

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        monkeypatch.setenv("OPTIONSV4_NSE_ARCHIVE_URL", f"http://127.0.0.1:{probe.getsockname()[1]}/content")
    monkeypatch.setattr("optionsv4_lib.adapters.nse_archive.time.sleep", lambda s: None)
    ran = optionsv4("data", "fetch-bhavcopy", "--from", "2025-01-20", "--to", "2025-01-22", "--dir",
                    str(tmp_path / "bhav"), "--interval", "0")
    assert ran.exit_code == 2 and "error: cannot reach NSE at" in ran.output and "rerun to resume" in ran.output
