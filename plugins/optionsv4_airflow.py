"""Airflow-only glue for the OptionsV4 DAGs: the timezone, settings from Airflow connections, the moment and trade
date of a run (and whether a scheduled run is too late for its slot), the retry policy, and the table that turns
library exceptions into a skipped or failed task.

optionsv4_lib imports nothing from Airflow; this module is the one place where Airflow meets it. Airflow puts the
plugins folder on sys.path, so DAG files import it as `optionsv4_airflow`. It imports only light library modules at
the top (errors, the calendar; the settings when a task asks for them): DAG files stay quick to parse.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import pendulum
from airflow.sdk import ExceptionRetryPolicy, RetryAction, RetryRule
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
from airflow.sdk.module_loading import import_string

from optionsv4_lib.core.errors import AuthError, BrokerError, InputError, RateLimited
from optionsv4_lib.reference.calendar import IST as IST_ZONE
from optionsv4_lib.reference.calendar import session

if TYPE_CHECKING:
    from optionsv4_lib.config import Settings

IST = IST_ZONE.key  # the library's zone, as the name Airflow and pendulum take
DATABASE_CONN_ID = "supabase_db"
DHAN_CONN_ID = "dhan_default"

LIBRARY_RETRY_POLICY = ExceptionRetryPolicy(rules=[
    RetryRule(exception=AuthError, action=RetryAction.FAIL, reason="Dhan rejected the credentials: renew the token"),
    RetryRule(exception=InputError, action=RetryAction.FAIL, reason="bad input: a retry cannot fix it"),
    RetryRule(exception=RateLimited, retry_delay=timedelta(minutes=1), reason="rate limited: backing off"),
    RetryRule(exception=BrokerError, retry_delay=timedelta(seconds=30), reason="broker trouble: trying again"),
])
"""Per exception: auth and input errors fail the task at once; rate limits and broker trouble back off; anything
else falls through to the task's retries."""

DATA_RETRIES = {"retries": 3, "retry_delay": timedelta(seconds=20), "retry_exponential_backoff": True,
                "max_retry_delay": timedelta(minutes=5), "retry_policy": LIBRARY_RETRY_POLICY}
"""Tasks that read market data or the database."""

PLACE_RETRIES = {"retries": 2, "retry_delay": timedelta(seconds=30), "retry_policy": LIBRARY_RETRY_POLICY}
"""Order placement: a retry resumes by correlation id, never duplicating an order."""

SKIP_WHEN = (
    "optionsv4_lib.jobs.daily.NotATradingDay",  # a weekend or NSE holiday: nothing to run
    "optionsv4_lib.jobs.execution.PreviewOnly",  # the plan is recorded; no `confirm`, so nothing is placed
)
FAIL_WHEN = (
    "optionsv4_lib.execution.mode.LiveTradingRefused",  # a key to live orders is missing
    "optionsv4_lib.jobs.execution.ExecutionFailed",  # a strategy failed or was left with open legs
    "optionsv4_lib.jobs.daily.RunCheckFailed",  # too few symbols succeeded, or a critical expectation failed
    "optionsv4_lib.store.db.Refused",  # the database refused the rows themselves: the same rows are refused again
)
"""Library exceptions that end a task as skipped, or failed without a retry (by dotted path: imported when raised)."""


@contextmanager
def task_outcome() -> Iterator[None]:
    """Turn the library exceptions of SKIP_WHEN into a skipped task and those of FAIL_WHEN into a failed one (no
    retry); anything else propagates to the retry policy."""
    try:
        yield
    except Exception as exc:
        if _any_of(exc, SKIP_WHEN):
            raise AirflowSkipException(str(exc)) from exc
        if _any_of(exc, FAIL_WHEN):
            raise AirflowFailException(str(exc)) from exc
        raise


def run_settings() -> Settings:
    """Settings from the environment, with the database URL and Dhan credentials from Airflow connections when
    those exist (AIRFLOW_CONN_SUPABASE_DB, AIRFLOW_CONN_DHAN_DEFAULT or the metadata DB). Secrets are masked in logs;
    an invalid setting is an InputError naming it (the task fails without retrying)."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException
    from airflow.sdk.log import mask_secret

    from optionsv4_lib.config import load_settings

    overrides = {}
    try:
        conn = BaseHook.get_connection(DATABASE_CONN_ID)
        uri = conn.get_uri().replace("postgres://", "postgresql://", 1)
        if conn.password:
            mask_secret(conn.password)
        mask_secret(uri)
        overrides["database_url"] = uri
    except AirflowNotFoundException:
        pass  # the embedded PostgreSQL default
    try:
        dhan = BaseHook.get_connection(DHAN_CONN_ID)
        extras = {name: str(dhan.extra_dejson[name]) for name in ("pin", "totp_secret")
                  if dhan.extra_dejson.get(name) not in (None, "")}  # a PIN typed as a number is text too
        for secret in (dhan.password, *extras.values()):
            if secret:
                mask_secret(secret)
        overrides |= {"dhan_client_id": dhan.login, "dhan_access_token": dhan.password}
        overrides |= {f"dhan_{name}": value for name, value in extras.items()}
    except AirflowNotFoundException:
        pass
    return load_settings(**overrides)


def moment_of(context) -> pendulum.DateTime:
    """The moment the run stands for, in IST: its logical date (the schedule's tick), else when it was due (manual
    triggers)."""
    return pendulum.instance(context.get("logical_date") or context["dag_run"].run_after).in_timezone(IST)


def trade_date_of(context) -> date:
    """The run's date in IST (moment_of)."""
    return moment_of(context).date()


def late_for_its_slot(context, now: datetime | None = None) -> str | None:
    """Why a scheduled run must not analyse, or None: it starts after the F&O open of its trade date, so its
    pre-market analysis would price a session already trading (a slot missed while the scheduler was down or the DAG
    paused, which Airflow still runs on unpause even with catchup off). Manual runs are never late."""
    if context["dag_run"].run_type != "scheduled":
        return None
    moment, now = moment_of(context), pendulum.instance(now or pendulum.now(IST)).in_timezone(IST)
    opens = session(moment.date())[0]
    if now.time() > opens or now.date() > moment.date():
        return (f"the scheduled run of {moment:%Y-%m-%d %H:%M} IST started at {now:%Y-%m-%d %H:%M} IST, after the "
                f"F&O open at {opens:%H:%M}: a pre-market analysis would be stale. Trigger the DAG to run it anyway.")
    return None


def _any_of(exc: Exception, paths: tuple[str, ...]) -> bool:
    return isinstance(exc, tuple(import_string(path) for path in paths))
