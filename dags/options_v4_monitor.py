"""
### OptionsV4 monitor — mark open positions, evaluate their exit rules, exit what hit

Every 15 minutes Monday to Friday from 09:00 to 15:45 IST; no catch-up, one run at a time.

1. `in_session` — skips the run (with the reason in the log) on NSE holidays and outside the F&O session
   (calendar.session: 09:15–15:40 from 3 Aug 2026), keeping one pass up to 15 minutes after the close: that pass
   settles expiring paper positions at intrinsic value.
2. `monitor` — one pass (`optionsv4_lib.execution.monitor_pass`): every open strategy's legs marked to market from the chosen
   source into `positions_snapshots`; the stored exit conditions (profit target, stop loss, time exit, greek
   triggers) evaluated; hits exited through the executor. Paper exits are automatic. Live exits default to no: the
   strategy becomes `exiting` with the note `EXIT PENDING: <rule>` until a run with `confirm_live_exits`,
   `confirmation` = `PLACE LIVE ORDERS` and OPTIONSV4_LIVE_TRADING=1 in the workers' environment places them (a run
   confirming without every key fails naming what is missing). ITM stock options are warned about from four trading
   days before expiry (physical settlement).

Params: `source` (synthetic | snapshot | dhan; default from the Airflow Variable `optionsv4_source`, else
synthetic), `confirm_live_exits`, `confirmation`. Each task calls the function of the same name in
`optionsv4_lib.jobs.monitor`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, CronTriggerTimetable, Param, get_current_context, task
from optionsv4_airflow import IST, moment_of, task_outcome

EVERY_15_MINUTES_IN_MARKET_HOURS = "*/15 9-15 * * 1-5"

with DAG(
    dag_id="options_v4_monitor",
    schedule=CronTriggerTimetable(EVERY_15_MINUTES_IN_MARKET_HOURS, timezone=IST),
    start_date=pendulum.datetime(2026, 1, 1, tz=IST),
    catchup=False,
    max_active_runs=1,
    tags=["optionsv4", "monitor"],
    doc_md=__doc__,
    params={
        "source": Param(None, type=["null", "string"], enum=[None, "synthetic", "snapshot", "dhan"],
                        title="Market data",
                        description="market data for the marks; empty = Variable optionsv4_source, else synthetic"),
        "confirm_live_exits": Param(False, type="boolean", title="Confirm live exits",
                                    description="place live exit orders; false = hold them as EXIT PENDING"),
        "confirmation": Param(None, type=["null", "string"], title="Live confirmation",
                              description="live exits only: type PLACE LIVE ORDERS; empty = no"),
    },
) as dag:

    @task
    def in_session() -> str:
        from airflow.sdk.exceptions import AirflowSkipException

        from optionsv4_lib.jobs import monitor as job

        now = moment_of(get_current_context())
        reason = job.in_session(now)
        if reason:
            print(f"skipped: {reason}")
            raise AirflowSkipException(reason)
        return now.isoformat()

    @task
    def monitor(now: str) -> dict:
        from datetime import datetime

        from airflow.sdk import Variable
        from optionsv4_airflow import run_settings

        from optionsv4_lib.jobs import monitor as job

        params = get_current_context()["params"]
        source = params["source"] or Variable.get("optionsv4_source", default="synthetic")
        with task_outcome():
            summary = job.monitor(run_settings(), source, datetime.fromisoformat(now),
                                  confirm_live_exits=params["confirm_live_exits"], confirmation=params["confirmation"])
        print(f"{summary['strategies']} strategies marked; hits {summary['hits']}; exits {summary['exits']}; "
              f"pending {summary['pending']}; settled {summary['settled']}; warnings {summary['warnings']}")
        return summary

    monitor(in_session())
