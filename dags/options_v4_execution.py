"""
### OptionsV4 execution — place the marked strategies (manual trigger only)

No schedule: trigger it from the UI form or `airflow dags trigger options_v4_execution -c '{...}'`. Unsafe actions
default to no: without `confirm` the run records the plan and stops.

1. `load_marked` — the strategies marked for execution in this mode (`optionsv4 mark [--mode live]`), or the
   `strategy_ids` given (each must be marked for it; one whose execution already finished is logged and left out),
   at most `max_strategies`; strategies left mid-placement by a crashed run are picked up again.
2. `pre_trade_checks` — the full order plan (legs as LIMIT orders, buys before sells, units, limit prices, costs,
   margin) with every check: kill switch, market hours, stale analysis, per-trade budget, industry and total caps,
   margin against funds. Paper: market hours and staleness only warn.
3. `preview` — the plan, always recorded as `executions/<run id>/plan.json` and `preview.txt` under the data dir.
4. `gate` — skips the rest unless `confirm` is true; live also needs `confirmation` = `PLACE LIVE ORDERS` and
   OPTIONSV4_LIVE_TRADING=1 in the workers' environment, else the run fails naming what is missing.
5. `place` — one mapped task per cleared strategy, in pool `dhan_orders` (one strategy at a time on the account):
   legs placed one by one, each polled to a terminal state; a failed leg unwinds the filled ones and the strategy
   becomes failed with the reason. Retrying is safe: orders carry deterministic correlation ids and are looked up
   before they are sent, so a retry resumes and never duplicates an order.
6. `reconcile` — open orders refreshed from the broker; a positions snapshot recorded.
7. `summary` — `summary.json` (whatever failed upstream; nothing to write beside when the checks failed); it fails
   if a strategy failed or was left with open legs.
8. `verdict` — runs only when a task failed (e.g. the gate refusing a live run, with the reason in the gate's log)
   and fails, so the run ends failed (red) although `summary` still ran; otherwise skipped.

Params: `mode` (paper | live), `strategy_ids` (empty = all marked), `max_strategies`, `confirm`, `confirmation`
(empty = no; the form triggers with every default).
Database and Dhan credentials come from the Airflow connections `supabase_db` and `dhan_default` (plugins/
optionsv4_airflow.py); each task calls the function of the same name in `optionsv4_lib.jobs.execution`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param, TriggerRule, get_current_context, task
from optionsv4_airflow import IST, PLACE_RETRIES, task_outcome

ORDERS_POOL = "dhan_orders"  # 1 slot: one strategy's legs at a time (Dhan: 10 orders/s; the client paces them too)

with DAG(
    dag_id="options_v4_execution",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz=IST),
    catchup=False,
    max_active_runs=1,
    tags=["optionsv4", "execution"],
    doc_md=__doc__,
    params={
        "mode": Param("paper", enum=["paper", "live"], title="Mode",
                      description="paper (simulated fills) or live (Dhan)"),
        "strategy_ids": Param([], type="array", items={"type": "integer"}, title="Strategy ids",
                              description="strategies to execute; empty = every marked strategy"),
        "max_strategies": Param(10, type="integer", minimum=1, title="Most strategies",
                                description="execute at most this many"),
        "confirm": Param(False, type="boolean", title="Confirm",
                         description="place the orders; false = record the plan only"),
        "confirmation": Param(None, type=["null", "string"], title="Live confirmation",
                              description="live only: type PLACE LIVE ORDERS; empty = no"),
    },
) as dag:

    @task
    def load_marked() -> list[int]:
        from optionsv4_airflow import run_settings

        from optionsv4_lib.jobs import execution

        params = get_current_context()["params"]
        ids = execution.load_marked(run_settings(), params["mode"], params["strategy_ids"], params["max_strategies"])
        print(f"{len(ids)} strategies to execute: {ids}")
        return ids

    @task
    def pre_trade_checks(strategy_ids: list[int]) -> str:
        from optionsv4_airflow import run_settings

        from optionsv4_lib.jobs import execution

        context = get_current_context()
        return execution.pre_trade_checks(run_settings(), context["params"]["mode"], strategy_ids, context["run_id"])

    @task
    def preview(plan_path: str) -> list[int]:
        from optionsv4_lib.jobs import execution

        text, cleared = execution.preview(plan_path)
        print(f"{text}\nRecorded: {plan_path}")
        return cleared

    @task
    def gate(cleared: list[int]) -> list[int]:
        from optionsv4_airflow import run_settings

        from optionsv4_lib.jobs import execution

        params = get_current_context()["params"]
        with task_outcome():
            return execution.gate(run_settings(), params["mode"], confirm=params["confirm"],
                                  confirmation=params["confirmation"], cleared=cleared)

    @task(pool=ORDERS_POOL, map_index_template="{{ strategy_id }}", **PLACE_RETRIES)
    def place(strategy_id: int) -> dict:
        from optionsv4_airflow import run_settings

        from optionsv4_lib.jobs import execution

        context = get_current_context()
        context["strategy_id"] = strategy_id
        params = context["params"]
        with task_outcome():  # a refused live gate fails at once, not after the retries
            outcome = execution.place(run_settings(), params["mode"], strategy_id,
                                      confirmation=params["confirmation"])
        print(f"strategy {strategy_id}: {outcome['status']} {outcome['reason'] or ''}")
        return outcome

    @task(trigger_rule=TriggerRule.ALL_DONE)
    def reconcile(outcomes: list[dict]) -> dict:
        from airflow.sdk.exceptions import AirflowSkipException
        from optionsv4_airflow import run_settings

        from optionsv4_lib.jobs import execution

        if not list(outcomes or []):
            raise AirflowSkipException("nothing was placed")
        return execution.reconcile(run_settings(), get_current_context()["params"]["mode"])

    @task(trigger_rule=TriggerRule.ALL_DONE)
    def summary(plan_path: str | None, outcomes: list[dict], reconciled: dict | None) -> dict:
        from optionsv4_lib.jobs import execution

        placed = list(outcomes or [])
        with task_outcome():
            document = execution.summary(plan_path, placed, reconciled)
        print(f"{len(placed)} strategies placed: {document['counts']}")
        return document

    @task(trigger_rule=TriggerRule.ONE_FAILED)
    def verdict() -> None:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException("a task of this run failed: see its log (a refused gate names what is missing)")

    marked = load_marked()
    plan_path = pre_trade_checks(marked)
    cleared = preview(plan_path)
    approved = gate(cleared)
    outcomes = place.expand(strategy_id=approved)
    reconciled = reconcile(outcomes)
    [marked, plan_path, cleared, approved, outcomes, reconciled, summary(plan_path, outcomes, reconciled)] >> verdict()
