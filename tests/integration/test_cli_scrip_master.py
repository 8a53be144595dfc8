"""`optionsv4 import-scrip-master` on hostile files (issue 19.5, 19.6): exit 2 with a message naming the file's
problem and every bad row's line, no traceback, and `instruments` exactly as it was."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from optionsv4_lib.cli.main import app
from optionsv4_lib.config import settings as current_settings
from optionsv4_lib.store import transaction

COMPACT = Path(__file__).parents[1] / "fixtures" / "scrip_master_compact.csv"
LINES = COMPACT.read_text().splitlines()  # line 10: NIFTY 01 Dec 2026 26000 CE, security id 71381


def edited(**lines: str) -> bytes:
    """The compact fixture with lines replaced ({"line10": text}; "" drops it) and "extra" lines appended."""
    out = list(LINES)
    for key, text in lines.items():
        if key.startswith("line"):
            out[int(key[4:]) - 1] = text
    return ("\n".join([*out, *lines.get("extra", "").splitlines()]) + "\n").encode()


OPTION = LINES[9]
BAD_FILES = {
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\xff", "not a CSV text file (byte 0 is not UTF-8)"),
    "empty": (b"", "empty file (no header row)"),
    "oversized id": (edited(line10=OPTION.replace("71381", "99999999999999999999")),
                     "1 bad row, nothing imported: line 10: security_id '99999999999999999999' is not a whole "
                     "number 1 … 9223372036854775807"),
    "ragged": (edited(line10=OPTION + ",extra", line12=",".join(LINES[11].split(",")[:5])),
               "2 bad rows, nothing imported: line 10: 17 fields, the header has 16; line 12: 5 fields, the header "
               "has 16"),
    "expiry": (edited(line10=OPTION.replace("2026-12-01 14:30:00", "31/12/2026")),
               "1 bad row, nothing imported: line 10: expiry_date '31/12/2026' is not YYYY-MM-DD"),
    "lower-case ce": (edited(line10=OPTION.replace(",CE,", ",ce,")),
                      "1 bad row, nothing imported: line 10: option type 'ce' is not CE, PE or XX"),
    "one contract, two ids": (edited(extra=OPTION.replace("71381", "71999")),
                              "1 bad row, nothing imported: line 26: option NIFTY 2026-12-01 26000 CE is also line 10 "
                              "(security ids 71999 and 71381)"),
}


@pytest.fixture
def optionsv4(monkeypatch, store_url):
    monkeypatch.setenv("OPTIONSV4_DATABASE_URL", store_url)

    def run(*args: str):
        current_settings.cache_clear()
        return CliRunner().invoke(app, list(args))

    yield run
    current_settings.cache_clear()


def instruments(conn) -> list[tuple]:
    with transaction(conn) as cur:
        cur.execute("SELECT * FROM instruments ORDER BY exchange, segment, security_id")
        return cur.fetchall()


@pytest.mark.parametrize("name", BAD_FILES)
def test_a_bad_file_is_refused_with_its_lines_and_changes_nothing(optionsv4, db, tmp_path, name):
    assert optionsv4("import-scrip-master", str(COMPACT)).exit_code == 0
    before = instruments(db)
    content, message = BAD_FILES[name]
    path = tmp_path / "scrip.csv"
    path.write_bytes(content)
    ran = optionsv4("import-scrip-master", str(path))
    assert ran.exit_code == 2, ran.output
    assert "Traceback" not in ran.output and isinstance(ran.exception, SystemExit)  # typer.Exit, not a crash
    assert " ".join(ran.output.split()) == f"error: {path}: {message}"
    assert instruments(db) == before
