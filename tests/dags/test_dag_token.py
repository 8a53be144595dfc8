"""Dhan tokens in an unattended run: an expiring token that cannot be renewed fails the daily run at its first task
with the reason (no retries, nothing fetched); one that can is renewed by TOTP against the emulator's auth host."""

import stat
from datetime import date, datetime, timedelta, timezone

import pendulum
import pytest
from dhan_emulator import DhanEmulator, jwt_token

from optionsv4_lib.adapters.dhan.market_data import DhanMarketData
from optionsv4_lib.config import Settings
from optionsv4_lib.core.errors import AuthError
from optionsv4_lib.marketdata.synthetic import SyntheticMarket
from optionsv4_lib.reference.calendar import IST

DAY = date(2026, 11, 23)
SECRET = "JBSWY3DPEHPK3PXP"  # base32
PIN = "246810"


def test_an_expired_token_fails_the_daily_run_at_its_first_task_with_the_reason(dagbag, dag_env, monkeypatch, capfd):
    expired = jwt_token("1000000001", datetime.now(timezone.utc) - timedelta(hours=2))
    with DhanEmulator(SyntheticMarket(42, DAY), access_token=expired) as emulator:
        for name, value in (("DHAN_CLIENT_ID", emulator.client_id), ("DHAN_ACCESS_TOKEN", expired),
                            ("OPTIONSV4_DHAN_BASE_URL", emulator.url)):
            monkeypatch.setenv(name, value)
        dag = dagbag.get_dag("options_v4_daily")
        run = dag.test(logical_date=pendulum.datetime(DAY.year, DAY.month, DAY.day, 8, 45, tz=IST),
                       run_conf={"risk_profile": "moderate", "source": "dhan", "symbols": 3, "min_success_share": 0.8})
        states = {ti.task_id: (str(ti.state), ti.try_number) for ti in run.get_task_instances()}
        assert str(run.state) == "failed"
        assert states["plan"] == ("failed", 1)  # AuthError: failed at once, never retried
        assert all(state in ("upstream_failed", "skipped") for task, (state, _) in states.items() if task != "plan"), \
            states
        assert emulator.requests == []  # nothing was asked of Dhan with the dead token
    logged = capfd.readouterr()
    assert "Dhan access token expired at" in logged.err + logged.out and "add a TOTP secret" in logged.err + logged.out
    assert expired not in logged.err + logged.out


def test_a_token_about_to_expire_is_renewed_by_totp_and_cached_for_the_next_process(tmp_path, migrated_database):
    expiring = jwt_token("1000000001", datetime.now(timezone.utc) + timedelta(minutes=10))
    with DhanEmulator(SyntheticMarket(42, DAY), access_token=expiring, pin=PIN, totp_secret=SECRET) as emulator:
        settings = Settings(dhan_client_id=emulator.client_id, dhan_access_token=expiring, dhan_pin=PIN,
                            dhan_totp_secret=SECRET, dhan_base_url=emulator.url, dhan_auth_url=emulator.auth_url,
                            data_dir=tmp_path, database_url=migrated_database)
        source = DhanMarketData.from_settings(settings, DAY)
        assert source.expiries("NIFTY")  # the renewed token is accepted
        assert [r.endpoint for r in emulator.requests][:1] == ["generate_access_token"]
        cache = tmp_path / ".dhan_token.json"
        assert stat.S_IMODE(cache.stat().st_mode) == 0o600 and emulator.access_token in cache.read_text()
        DhanMarketData.from_settings(settings, DAY).expiries("BANKNIFTY")  # the next process: the cached token
        assert [r.endpoint for r in emulator.requests].count("generate_access_token") == 1
        wrong = Settings(**{**settings.model_dump(), "dhan_pin": "000000", "data_dir": tmp_path / "other"})
        with pytest.raises(AuthError, match="Dhan refused to generate an access token .*check the client id, PIN"):
            DhanMarketData.from_settings(wrong, DAY)
