"""NSE Clearing's daily SPAN risk-parameter file (`nsccl.YYYYMMDD.<s|i01…i05>.spn`): CME SPAN XML, fileFormat 4.00.

What is read, per option contract of the symbols asked for (`clearingOrg/exchange/oopPf/series/opt`): the expiry
(`series/pe`, YYYYMMDD), C/P (`o`), strike (`k`, ₹), price (`p`, ₹/unit) and the risk array `ra`: 16 values `a`
(₹ per long unit, positive = loss, in NSE's scenario order: price 0, +1/3, −1/3, +2/3, −2/3, ±1 of the scan range,
each with the vol up then down; then the two extreme moves with their cover share already applied) and the composite
delta `d`; and the underlying price of each symbol (`phyPf/phy/p`). The format follows the CME SPAN XML schema that
NSE Clearing publishes with the files (spanrisk.xml) as read by the `marginism` project (MIT); a missing or
non-numeric field is an error naming the contract, never a silent 0. The file is streamed (a settlement file is
~50 MB); only the symbols asked for are kept.

Nothing here downloads: `download_span_file` is called only by `optionsv4 data fetch-span`.
"""

import json
import logging
import re
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from datetime import date
from io import BytesIO
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from optionsv4_lib.core.errors import DataError, InputError
from optionsv4_lib.reference.calendar import previous_trading_day

log = logging.getLogger(__name__)

N_SCENARIOS = 16
FILE_NAME = re.compile(r"nsccl\.(\d{8})\.(s|i\d{1,2})\.spn$", re.IGNORECASE)
SPAN_URL = "https://nsearchives.nseindia.com/archives/nsccl/span/nsccl.{day:%Y%m%d}.s.zip"  # unverified path


@dataclass(frozen=True)
class RiskArrays:
    """Per leg (N, L) from a SPAN file: the 16 losses per long unit (N, L, 16; ₹, extremes weighted), the composite
    delta and the price (₹/unit); `covered` (N,) marks positions whose every non-pad leg the file lists."""

    losses: np.ndarray
    delta: np.ndarray
    price: np.ndarray
    covered: np.ndarray


@dataclass(frozen=True)
class SpanFile:
    """The option contracts of a SPAN file: `contracts` (symbol, expiry date, option_type CE/PE, strike, price,
    delta) indexed like `arrays` (M, 16) ₹/unit; `underlying` symbol → ₹; `business_date` of the file."""

    business_date: date
    contracts: pd.DataFrame
    arrays: np.ndarray
    underlying: dict[str, float]

    def risk_arrays(self, symbol: str, strike: np.ndarray, is_call: np.ndarray, expiry: np.ndarray,
                    quantity: np.ndarray) -> RiskArrays:
        """The file's arrays for legs (N, L) of `symbol` (strike ₹, is_call, expiry datetime64[D] or dates,
        quantity units; 0 = pad). A position is `covered` when the file lists every one of its non-pad legs."""
        strike, is_call, quantity = np.asarray(strike, float), np.asarray(is_call, bool), np.asarray(quantity)
        if self.contracts.empty:  # a file listing none of the symbols asked for covers nothing
            return RiskArrays(np.zeros((*strike.shape, N_SCENARIOS)), np.zeros(strike.shape), np.zeros(strike.shape),
                              np.zeros(strike.shape[0], dtype=bool))
        if np.asarray(expiry).dtype.kind in "iufb":
            raise InputError("expiry: expected dates (datetime64 or date), got numbers")
        expiry = np.asarray(expiry, dtype="datetime64[D]").astype("datetime64[ns]")
        index = pd.MultiIndex.from_frame(self.contracts[["symbol", "expiry", "option_type", "strike"]])
        wanted = pd.MultiIndex.from_arrays([np.full(strike.size, symbol), expiry.ravel(),
                                            np.where(is_call.ravel(), "CE", "PE"), strike.ravel()])
        rows = index.get_indexer(wanted).reshape(strike.shape)
        found = rows >= 0
        safe = np.where(found, rows, 0)
        return RiskArrays(self.arrays[safe], self.contracts["delta"].to_numpy()[safe],
                          self.contracts["price"].to_numpy()[safe], (found | (quantity == 0)).all(axis=1))


def span_for_run(day: date, directory: Path | str, symbols: set[str] | None = None) -> SpanFile | None:
    """The SPAN parameters a pre-market run of `day` can know: the day's beginning-of-day file (`i1`/`i01`) when the
    folder has it, else the previous trading day's settlement file (`s`); never a later revision of the day (it did
    not exist before the open, and a replay must see what the run saw). None when the folder has neither (logged)."""
    folder = Path(directory)
    for candidate, revisions in ((day, ("i1", "i01")), (previous_trading_day(day), ("s",))):
        for revision in revisions:
            path = folder / f"nsccl.{candidate:%Y%m%d}.{revision}.spn"
            if path.is_file():
                return read_span_file(path, symbols)
    log.info("no SPAN file for %s in %s (its beginning-of-day file, or the previous session's settlement file): "
             "margins from the scenario model", day, folder)
    return None


def save_span(span: SpanFile, path: Path) -> None:
    """Write a parsed SPAN file as one Parquet file (contracts with their 16 arrays; date and underlyings in the
    schema metadata), for the tasks of a run to share without parsing the XML again."""
    frame = span.contracts.copy()
    for k in range(N_SCENARIOS):
        frame[f"a{k}"] = span.arrays[:, k] if len(span.arrays) else []
    table = pa.Table.from_pandas(frame, preserve_index=False)
    meta = {b"span": json.dumps({"business_date": span.business_date.isoformat(),
                                 "underlying": span.underlying}).encode()}
    pq.write_table(table.replace_schema_metadata({**(table.schema.metadata or {}), **meta}), path)


def load_span(path: Path) -> SpanFile:
    """A SPAN file written by save_span."""
    table = pq.read_table(path)
    meta = json.loads(table.schema.metadata[b"span"])
    frame = table.to_pandas()
    columns = [f"a{k}" for k in range(N_SCENARIOS)]
    return SpanFile(date.fromisoformat(meta["business_date"]), frame.drop(columns=columns),
                    frame[columns].to_numpy(float).reshape(-1, N_SCENARIOS), meta["underlying"])


def read_span_file(path: Path | str, symbols: set[str] | None = None) -> SpanFile:
    """Parse the SPAN XML file at `path`, keeping the option contracts of `symbols` (all when None)."""
    path = Path(path)
    records, arrays, underlying, business_date = [], [], {}, None
    try:
        for _, element in ET.iterparse(path, events=("end",)):
            if element.tag == "date" and business_date is None:
                business_date = _date(element.text, f"{path}: business date")
            elif element.tag == "phyPf":
                symbol = _text(element, "pfCode", path)
                if symbols is None or symbol in symbols:
                    underlying[symbol] = _number(element.find("phy"), "p", f"{path}: {symbol} underlying")
                element.clear()
            elif element.tag == "oopPf":
                symbol = _text(element, "pfCode", path)
                if symbols is None or symbol in symbols:
                    _options(element, symbol, path, records, arrays)
                element.clear()
    except ET.ParseError as exc:
        raise DataError(f"{path}: not SPAN XML ({exc})") from None
    except FileNotFoundError:
        raise DataError(f"{path}: SPAN file not found") from None
    if business_date is None:
        raise DataError(f"{path}: no <date> (not a SPAN risk-parameter file)")
    contracts = pd.DataFrame(records, columns=["symbol", "expiry", "option_type", "strike", "price", "delta"])
    contracts["expiry"] = contracts["expiry"].astype("datetime64[s]").astype("datetime64[ns]")
    return SpanFile(business_date, contracts, np.array(arrays, dtype=float).reshape(-1, N_SCENARIOS), underlying)


def span_file_for(day: date, directory: Path | str) -> Path | None:
    """The latest revision for `day` among nsccl.YYYYMMDD.*.spn in `directory` (the settlement file `s`, else the
    highest intraday `iNN`), or None when there is none."""
    found = []
    for candidate in Path(directory).glob(f"nsccl.{day:%Y%m%d}.*.spn"):
        match = FILE_NAME.search(candidate.name)
        if match:
            revision = match.group(2).lower()
            found.append((100 if revision == "s" else int(revision[1:]), candidate))
    return max(found)[1] if found else None


def download_span_file(day: date, directory: Path | str, *, timeout: float = 30.0) -> Path:
    """Download NSE's settlement SPAN file of `day` into `directory` (unzipped); DataError with the reason when
    NSE cannot be reached or has no file for that day."""
    url = SPAN_URL.format(day=day)
    request = urllib.request.Request(url, headers={"User-Agent": "Mozilla/5.0 (optionsv4)"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            payload = answer.read()
    except urllib.error.HTTPError as exc:
        raise DataError(f"could not download {url}: HTTP {exc.code} (no SPAN file for {day}: a holiday, or not "
                        "published yet?)") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise DataError(f"could not download {url}: {getattr(exc, 'reason', exc)} (is NSE reachable from here?)") \
            from None
    try:
        with zipfile.ZipFile(BytesIO(payload)) as archive:
            names = [n for n in archive.namelist() if FILE_NAME.search(n)]
            if not names:
                raise DataError(f"{url}: the archive holds no nsccl.*.spn file")
            target = Path(directory) / Path(names[0]).name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(names[0]))
    except zipfile.BadZipFile:
        raise DataError(f"{url}: NSE answered with something that is not a zip file") from None
    return target


def _options(portfolio: ET.Element, symbol: str, path: Path, records: list, arrays: list) -> None:
    """Append the options of one oopPf: a record and its 16 risk-array values per contract."""
    for series in portfolio.findall("series"):
        expiry = _date(series.findtext("pe"), f"{path}: {symbol} series expiry")
        for option in series.findall("opt"):
            kind, where = option.findtext("o"), f"{path}: {symbol} {expiry} option {option.findtext('cId')}"
            if kind not in ("C", "P"):
                raise DataError(f"{where}: option type {kind!r} is not C or P")
            risk = option.find("ra")
            values = [] if risk is None else [_float(a.text, f"{where} risk array") for a in risk.findall("a")]
            if len(values) != N_SCENARIOS:
                raise DataError(f"{where}: risk array has {len(values)} values, expected {N_SCENARIOS}")
            records.append((symbol, expiry, "CE" if kind == "C" else "PE", _number(option, "k", where),
                            _number(option, "p", where), _number(risk, "d", where)))
            arrays.append(values)


def _text(element: ET.Element, tag: str, path: Path) -> str:
    value = (element.findtext(tag) or "").strip()
    if not value:
        raise DataError(f"{path}: a <{element.tag}> without <{tag}>")
    return value


def _number(element: ET.Element | None, tag: str, where: str) -> float:
    if element is None:
        raise DataError(f"{where}: missing")
    return _float(element.findtext(tag), f"{where} <{tag}>")


def _float(text: str | None, where: str) -> float:
    try:
        value = float((text or "").strip())
    except ValueError:
        raise DataError(f"{where}: {text!r} is not a number") from None
    if not np.isfinite(value):
        raise DataError(f"{where}: {text!r} is not a finite number")
    return value


def _date(text: str | None, where: str) -> date:
    value = (text or "").strip()
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    except ValueError:
        raise DataError(f"{where}: {text!r} is not a YYYYMMDD date") from None
