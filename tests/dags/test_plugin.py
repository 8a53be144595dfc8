"""The DAGs' shared policies (plugins/optionsv4_airflow.py): which library exceptions fail at once, back off, skip or
fail a task, and a run's trade date in IST."""

from datetime import datetime, timedelta, timezone

import pytest


@pytest.fixture
def plugin(airflow_home):
    import optionsv4_airflow

    return optionsv4_airflow


def decision(plugin, exc):
    return plugin.LIBRARY_RETRY_POLICY.evaluate(exception=exc, try_number=1, max_tries=3)


def test_auth_and_input_errors_fail_at_once_and_broker_trouble_backs_off(plugin):
    from airflow.sdk import RetryAction

    from optionsv4_lib.core.errors import AuthError, BrokerError, DataError, InputError, RateLimited

    assert decision(plugin, AuthError("token expired")).action == RetryAction.FAIL
    assert decision(plugin, InputError("risk profile: unknown")).action == RetryAction.FAIL
    limited = decision(plugin, RateLimited("429"))
    assert limited.action == RetryAction.RETRY and limited.retry_delay == timedelta(minutes=1)
    broker = decision(plugin, BrokerError("503"))
    assert broker.action == RetryAction.RETRY and broker.retry_delay == timedelta(seconds=30)
    assert decision(plugin, DataError("bad chain")).action == plugin.LIBRARY_RETRY_POLICY.default  # task's retries


def test_library_exceptions_become_skipped_or_failed_tasks(plugin):
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    from optionsv4_lib.execution.mode import LiveTradingRefused
    from optionsv4_lib.jobs.daily import NotATradingDay, RunCheckFailed
    from optionsv4_lib.jobs.execution import ExecutionFailed, PreviewOnly
    from optionsv4_lib.store.db import Refused

    for exc, outcome in ((NotATradingDay("holiday"), AirflowSkipException), (PreviewOnly("no confirm"),
                         AirflowSkipException), (LiveTradingRefused("no flag"), AirflowFailException),
                         (ExecutionFailed("leg failed"), AirflowFailException),
                         (RunCheckFailed("too few"), AirflowFailException),
                         (Refused("strategies: violates constraint strategies_lots_check"), AirflowFailException)):
        with pytest.raises(outcome, match=str(exc)):
            with plugin.task_outcome():
                raise exc
    with pytest.raises(KeyError):  # anything else is left to the retry policy
        with plugin.task_outcome():
            raise KeyError("x")


def test_the_trade_date_is_the_run_moment_in_ist(plugin):
    late_utc = datetime(2026, 11, 23, 20, 0, tzinfo=timezone.utc)  # 01:30 IST on the 24th
    assert plugin.trade_date_of({"logical_date": late_utc}).isoformat() == "2026-11-24"
    assert plugin.moment_of({"logical_date": late_utc}).hour == 1


def test_a_scheduled_run_after_the_open_is_late_and_a_manual_one_never(plugin):
    """The 08:45 IST slot of Monday 23 Nov 2026 (F&O open 09:15): on time before the open, late after it or on a
    later day (a slot missed while paused, run on unpause); a manual trigger runs whenever it starts."""
    from types import SimpleNamespace

    slot = datetime(2026, 11, 23, 3, 15, tzinfo=timezone.utc)

    def context(run_type):
        return {"logical_date": slot, "dag_run": SimpleNamespace(run_type=run_type)}

    ist = timezone(timedelta(hours=5, minutes=30))
    assert plugin.late_for_its_slot(context("scheduled"), datetime(2026, 11, 23, 8, 46, tzinfo=ist)) is None
    assert plugin.late_for_its_slot(context("scheduled"), datetime(2026, 11, 23, 9, 15, tzinfo=ist)) is None
    late = plugin.late_for_its_slot(context("scheduled"), datetime(2026, 11, 23, 15, 58, tzinfo=ist))
    assert late.startswith("the scheduled run of 2026-11-23 08:45 IST started at 2026-11-23 15:58 IST, after the "
                           "F&O open at 09:15") and "Trigger the DAG" in late
    assert plugin.late_for_its_slot(context("scheduled"), datetime(2026, 11, 24, 8, 0, tzinfo=ist))
    assert plugin.late_for_its_slot(context("manual"), datetime(2026, 11, 23, 15, 58, tzinfo=ist)) is None
