"""
### OptionsV4 daily — pre-market analysis of NSE F&O option strategies

Runs at 08:45 Asia/Kolkata, Monday to Friday. On an NSE holiday the `plan` task skips the run with the holiday's
name in its log; so does a scheduled run that starts after the F&O open (a slot missed while the scheduler was down
or the DAG paused, which Airflow runs on unpause): its pre-market analysis would be stale. A manual trigger always
runs. The trade date is the run's date in IST (a rerun or backfill of a date is deterministic: the analysis reads
only the Parquet snapshots recorded by the fetch tasks).

1. `plan` — universe and industry allocations from the database; the run directory.
2. `market_context` — NIFTY and INDIA VIX daily history and the NIFTY near-expiry chain.
3. `fetch_chains` — one task records every symbol's chains (in one batch where the source can; pool
   `dhan_option_chain` serializes Dhan access); a symbol's data problem is its reason, with one log line per symbol.
4. `validate_chains`, `validate_context` — Great Expectations; a chain failing a critical expectation drops its
   symbol with that reason.
5. `market_state` — trend × VIX regime (+ PCR) → one of nine states.
6. `analyze_symbols` — mapped over ANALYSIS_BATCHES batches of symbols (the map index lists them): candidates,
   metrics, scores, top N per symbol; a symbol's failure is its reason, a crash costs only that symbol (its log
   has the traceback; the batch fails and is retried).
7. `allocate` — industry-first sizing and exits; `validate_strategies` — Great Expectations.
8. `load` — one transaction into PostgreSQL (Supabase: connection `supabase_db`); `report` — result JSONs, payoff
   charts, Data Docs; `final_check` — fails the run when too few symbols succeeded or a critical expectation failed.

Params: `risk_profile`, `source` (synthetic | snapshot | dhan; default from the Airflow Variable `optionsv4_source`,
else synthetic), `symbols` (limit to the first N of the universe, 0 = all), `min_success_share`.
Tasks hand each other paths and small dicts through XCom, never DataFrames; each task calls the function of the same
name in `optionsv4_lib.jobs.daily`. Retries, the timezone and the skip/fail table live in plugins/optionsv4_airflow.py.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, CronTriggerTimetable, Param, TriggerRule, get_current_context, task
from optionsv4_airflow import DATA_RETRIES, IST, task_outcome

DHAN_POOL = "dhan_option_chain"  # 1 slot; the Dhan client also spaces option-chain calls 3 s apart
ANALYSIS_BATCHES = 8  # batches of symbols; a task per symbol made a whole-universe run ~2× slower on 2 cores
                      # (README: Airflow under a real scheduler)

with DAG(
    dag_id="options_v4_daily",
    schedule=CronTriggerTimetable("45 8 * * 1-5", timezone=IST),
    start_date=pendulum.datetime(2026, 1, 1, tz=IST),
    catchup=False,
    max_active_runs=1,
    tags=["optionsv4", "analysis"],
    doc_md=__doc__,
    params={
        "risk_profile": Param("moderate", enum=["conservative", "moderate", "aggressive"], title="Risk profile"),
        "source": Param(None, type=["null", "string"], enum=[None, "synthetic", "snapshot", "dhan"],
                        title="Market data", description="empty = Variable optionsv4_source, else synthetic"),
        "symbols": Param(0, type="integer", minimum=0, title="Symbols",
                         description="analyze only the first N symbols (0 = all)"),
        "min_success_share": Param(0.8, type="number", minimum=0, maximum=1, title="Least share of symbols analyzed",
                                   description="the run fails below it"),
    },
) as dag:

    @task(**DATA_RETRIES)
    def plan() -> str:
        from airflow.sdk import Variable
        from airflow.sdk.exceptions import AirflowSkipException
        from optionsv4_airflow import late_for_its_slot, run_settings, trade_date_of

        from optionsv4_lib.jobs import daily

        context = get_current_context()
        if late := late_for_its_slot(context):
            raise AirflowSkipException(late)
        params = context["params"]
        with task_outcome():
            planned = daily.plan(trade_date_of(context), settings=run_settings(), risk_profile=params["risk_profile"],
                                 source=params["source"] or Variable.get("optionsv4_source", default="synthetic"),
                                 first=params["symbols"])
        return planned["run_dir"]

    @task
    def batches(run_dir: str) -> list[list[str]]:
        from optionsv4_lib.jobs import daily

        return daily.batches(daily.symbols_of(run_dir), ANALYSIS_BATCHES)

    @task(**DATA_RETRIES)
    def market_context(run_dir: str) -> str:
        from optionsv4_airflow import run_settings

        from optionsv4_lib.jobs import daily

        return daily.market_context(run_dir, run_settings())

    @task(pool=DHAN_POOL, **DATA_RETRIES)
    def fetch_chains(run_dir: str) -> list[str]:
        from optionsv4_airflow import run_settings

        from optionsv4_lib.jobs import daily

        ti = get_current_context()["ti"]
        return daily.fetch_chains(run_dir, run_settings(), final_attempt=ti.try_number > ti.max_tries)

    @task(trigger_rule=TriggerRule.ALL_DONE_MIN_ONE_SUCCESS)  # after every fetch, but never without a plan
    def validate_chains(run_dir: str) -> dict[str, str]:
        from optionsv4_airflow import run_settings

        from optionsv4_lib.jobs import daily

        excluded = daily.validate_chains(run_dir, run_settings())
        for symbol, reason in excluded.items():
            print(f"excluded {symbol}: {reason}")
        return excluded

    @task
    def validate_context(run_dir: str) -> bool:
        from optionsv4_lib.jobs import daily

        return daily.validate_context(run_dir)

    @task
    def market_state(run_dir: str) -> str:
        from optionsv4_airflow import run_settings

        from optionsv4_lib.jobs import daily

        state = daily.market_state(run_dir, run_settings())
        print("\n".join([f"Market state: {state.state} (confidence {state.direction_confidence:.0%})",
                         *state.explanation]))
        return state.state

    @task(map_index_template="{{ batch }}", **DATA_RETRIES)
    def analyze_symbols(run_dir: str, symbols: list[str], excluded: dict[str, str]) -> list[str]:
        from optionsv4_airflow import run_settings

        from optionsv4_lib.jobs import daily

        get_current_context()["batch"] = ", ".join(symbols)
        return daily.analyze_symbols(run_dir, symbols, run_settings(), excluded)

    @task(trigger_rule=TriggerRule.ALL_DONE_MIN_ONE_SUCCESS)  # after every symbol, but never without a plan
    def allocate(run_dir: str) -> str:
        from optionsv4_airflow import run_settings

        from optionsv4_lib.jobs import daily

        return daily.allocate(run_dir, run_settings())

    @task
    def validate_strategies(run_dir: str, result_dir: str) -> bool:
        from optionsv4_airflow import run_settings

        from optionsv4_lib.jobs import daily

        return daily.validate_strategies(run_dir, result_dir, run_settings())

    @task(**DATA_RETRIES)
    def load(run_dir: str, result_dir: str) -> int:
        from optionsv4_airflow import run_settings

        from optionsv4_lib.jobs import daily

        with task_outcome():
            return daily.load(run_dir, result_dir, run_settings())

    @task
    def report(run_dir: str, result_dir: str, stored_run: int) -> dict:
        from optionsv4_airflow import run_settings

        from optionsv4_lib.jobs import daily

        outcome = daily.report(run_dir, result_dir, run_settings())
        print("\n".join([f"Analysis run {stored_run}", *outcome["summary"], f"Results: {outcome['analysis']}",
                         f"Data Docs: {outcome['data_docs']}", *(f"WARNING: {w}" for w in outcome["warnings"])]))
        return outcome

    @task
    def final_check(result_dir: str, context_ok: bool, strategies_ok: bool) -> str:
        from optionsv4_lib.jobs import daily

        with task_outcome():
            return daily.final_check(result_dir, context_ok=context_ok, strategies_ok=strategies_ok,
                                     min_success_share=get_current_context()["params"]["min_success_share"])

    run_dir = market_context(plan())
    fetched = fetch_chains(run_dir)
    excluded = validate_chains(run_dir)
    context_ok = validate_context(run_dir)
    state = market_state(run_dir)
    analyzed = analyze_symbols.partial(run_dir=run_dir, excluded=excluded).expand(symbols=batches(run_dir))
    result_dir = allocate(run_dir)
    strategies_ok = validate_strategies(run_dir, result_dir)
    stored_run = load(run_dir, result_dir)
    reported = report(run_dir, result_dir, stored_run)
    checked = final_check(result_dir, context_ok, strategies_ok)

    fetched >> excluded
    state >> analyzed >> result_dir
    strategies_ok >> stored_run
    reported >> checked
