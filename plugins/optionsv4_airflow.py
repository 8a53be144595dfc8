"""Airflow-only glue for the OptionsV4 DAGs: settings from Airflow connections, and the run's trade date.

optionsv4_lib imports nothing from Airflow; this module is the one place where Airflow meets it. Airflow puts the
plugins folder on sys.path, so DAG tasks import it as `optionsv4_airflow`.
"""

from __future__ import annotations

from datetime import date

import pendulum

from optionsv4_lib.config import Settings

DATABASE_CONN_ID = "supabase_db"
DHAN_CONN_ID = "dhan_default"
IST = "Asia/Kolkata"


def run_settings() -> Settings:
    """Settings from the environment, with the database URL and Dhan credentials from Airflow connections when
    those exist (AIRFLOW_CONN_SUPABASE_DB, AIRFLOW_CONN_DHAN_DEFAULT or the metadata DB). Secrets are masked in logs."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException
    from airflow.sdk.log import mask_secret

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
        if dhan.password:
            mask_secret(dhan.password)
        overrides |= {"dhan_client_id": dhan.login, "dhan_access_token": dhan.password}
    except AirflowNotFoundException:
        pass
    return Settings(**overrides)


def trade_date_of(context) -> date:
    """The run's date in IST: the logical date of a scheduled run, else when the run was due (manual triggers)."""
    moment = context.get("logical_date") or context["dag_run"].run_after
    return pendulum.instance(moment).in_timezone(IST).date()
