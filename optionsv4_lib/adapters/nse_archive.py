"""NSE's public archive of F&O bhavcopies: download the zipped files of a date range into a folder, politely and
resumably. Only `optionsv4 data fetch-bhavcopy` downloads; backtests read the folder (marketdata.bhavcopy).

URLs under the base (settings nse_archive_url, default https://nsearchives.nseindia.com/content):
    UDiFF (from 8 Jul 2024): fo/BhavCopy_NSE_FO_0_0_0_YYYYMMDD_F_0000.csv.zip
    legacy (before):         historical/DERIVATIVES/YYYY/MON/foDDMONYYYYbhav.csv.zip
One request per NSE trading day (reference.calendar), at most one every `interval` seconds; a day whose file (in
any of the names the reader takes) is already in the folder is skipped, so a rerun resumes. 404 means NSE has no
file for that day (kept as 'missing'); 429 and 5xx are retried with backoff (pacing.RetryPolicy, Retry-After
honoured); a body that is not a zip is refused. When NSE cannot be reached at all, DataError says so and names
what was fetched before; files are written whole (temporary file, then renamed) or not at all.
"""

import io
import os
import random
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import requests

from optionsv4_lib.adapters.pacing import Rate, RateLimiter, RetryPolicy
from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.marketdata.bhavcopy import UDIFF_FIRST_DAY, bhavcopy_name
from optionsv4_lib.reference.calendar import trading_days

DEFAULT_BASE_URL = "https://nsearchives.nseindia.com/content"
INTERVAL = 1.0  # s between requests: NSE's archive throttles bursts
TIMEOUT = 30.0  # s per request
HEADERS = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) optionsv4", "Accept": "application/zip,*/*"}
_RETRIED = {429, 500, 502, 503, 504}


@dataclass(frozen=True)
class Fetched:
    """One trading day: status 'fetched' | 'present' (already in the folder) | 'missing' (NSE has no file), and
    the file's path (None when missing)."""

    day: date
    status: str
    path: Path | None


def bhavcopy_url(day: date, base_url: str = DEFAULT_BASE_URL) -> str:
    """The archive URL of day's F&O bhavcopy."""
    base = base_url.rstrip("/")
    if day >= UDIFF_FIRST_DAY:
        return f"{base}/fo/{bhavcopy_name(day)}"
    return f"{base}/historical/DERIVATIVES/{day:%Y}/{day.strftime('%b').upper()}/{bhavcopy_name(day)}"


def fetch_bhavcopies(start: date, end: date, directory: Path, *, base_url: str = DEFAULT_BASE_URL,
                     session: requests.Session | None = None, interval: float = INTERVAL,
                     retry: RetryPolicy = RetryPolicy(attempts=4, base_delay=2.0, max_delay=60.0),
                     sleep: Callable[[float], None] | None = None, progress: Callable[[Fetched], None] | None = None,
                     rng: random.Random | None = None) -> list[Fetched]:
    """Download the bhavcopies of the trading days from start to end into `directory` (created); one Fetched per
    day. DataError when NSE is unreachable or keeps failing (the files already written stay)."""
    if start > end:
        raise InputError(f"from: {start} is after to {end}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    http = session or requests.Session()
    limiter = RateLimiter(Rate(1, interval), **({"sleep": sleep} if sleep else {}))
    wait, rng = sleep or time.sleep, rng or random.Random()
    done: list[Fetched] = []
    for day in trading_days(start, end):
        present = _present(directory, day)
        if present:
            outcome = Fetched(day, "present", present)
        else:
            url = bhavcopy_url(day, base_url)
            try:
                body = _get(http, url, limiter, retry, wait, rng)
            except DataError as exc:
                fetched = sum(f.status == "fetched" for f in done)
                raise DataError(f"{exc}; {fetched} file(s) fetched before it are kept in {directory} — rerun to "
                                f"resume") from exc
            outcome = Fetched(day, "missing", None) if body is None else \
                Fetched(day, "fetched", _write(directory / bhavcopy_name(day), body, url))
        done.append(outcome)
        if progress:
            progress(outcome)
    return done


def _present(directory: Path, day: date) -> Path | None:
    for suffix in (".zip", ".gz", ""):
        path = directory / bhavcopy_name(day, suffix)
        if path.is_file():
            return path
    return None


def _get(http: requests.Session, url: str, limiter: RateLimiter, retry: RetryPolicy, wait, rng) -> bytes | None:
    """The body of url; None on 404; DataError when unreachable or still failing after retry.attempts."""
    attempt = 0
    while True:
        attempt += 1
        limiter.acquire()
        try:
            response = http.get(url, headers=HEADERS, timeout=TIMEOUT)
        except requests.RequestException as exc:
            problem, retry_after = f"cannot reach NSE at {url} ({type(exc).__name__}: {exc})", None
        else:
            if response.status_code == 200:
                return response.content
            if response.status_code == 404:
                return None
            if response.status_code not in _RETRIED:
                raise DataError(f"NSE answered {response.status_code} for {url}")
            problem, retry_after = f"NSE answered {response.status_code} for {url}", _seconds(response)
        delay = retry.delay(attempt, retry_after, rng) if attempt < retry.attempts else None
        if delay is None:
            raise DataError(f"{problem}; gave up after {attempt} attempt(s)")
        wait(delay)


def _seconds(response: requests.Response) -> float | None:
    try:
        return float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        return None


def _write(path: Path, body: bytes, url: str) -> Path:
    """body (a zip holding one .csv) to path, whole or not at all."""
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            if not any(name.lower().endswith(".csv") for name in archive.namelist()):
                raise DataError(f"{url}: the zip holds no .csv")
    except zipfile.BadZipFile as exc:
        raise DataError(f"{url}: NSE sent something that is not a zip ({body[:40]!r}…)") from exc
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(body)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
