"""
### OptionsV4 backtest — the selection replayed over past trade dates (manual trigger only)

No schedule: trigger it from the UI form or `airflow dags trigger options_v4_backtest -c '{"from_date": "2026-10-01",
"to_date": "2026-10-30"}'`. It runs what `optionsv4 backtest` runs, one mapped task per trade date.

1. `plan` — checks the params; the NSE trading days from `from_date` to `to_date` (weekends and holidays are logged
   and left out); universe and allocations from the database; the backtest directory `backtests/<key>/` under the
   data dir (a rerun with the same params starts it afresh).
2. `simulate` — one mapped task per trade date (the date is the map index): the analysis on that date's market
   (synthetic, the snapshots recorded that day, that day's NSE bhavcopy or cached Dhan expired-options data), its
   `top` strategies entered as paper positions at the analysis prices and carried day by day through the monitor's
   exit rules to their exit or expiry; its trades as Parquet.
   A date or a later day without data is recorded as a reason, not a failure.
   Beside the ranked picks, the baselines run on the same date, sized and exited alike: a random eligible candidate
   per symbol (seeded) and the best-scored candidate of each baseline family.
3. `report` — runs when every `simulate` is done, failed or not (a failed date is listed as left out): realized P&L
   net of costs (gross alongside), win rate, average win and loss, max drawdown, overall, per strategy family and per
   market state at entry; the ranked picks against the baselines; PoP calibration (Brier scores) and predicted vs
   realized E[P&L]; equity, drawdown and margin in use — `backtest_<key>.html` (charts inline), `.json` and
   `_trades.parquet` in the results dir.

Params: `from_date`, `to_date` (YYYY-MM-DD), `risk_profile`, `source` (synthetic | snapshot | bhavcopy |
dhan-expired; Dhan's live API has no historical chains), `bhavcopy_dir`, `expired_dir`, `index_history`, `vix_file`
(the bhavcopy and dhan-expired sources' files, as the CLI's `--data-dir`, `--index-history`, `--vix-file`),
`symbols` (the first N of the universe, 0 = all), `top` (strategies entered per date, 0 = every sized one),
`baseline_families` (catalog strategies, as the CLI's `--baseline-family`).
Tasks hand each other paths through XCom, never DataFrames; each task calls the function of the same name in
`optionsv4_lib.jobs.backtest`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param, TriggerRule, get_current_context, task
from optionsv4_airflow import DATA_RETRIES, IST

with DAG(
    dag_id="options_v4_backtest",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz=IST),
    catchup=False,
    max_active_runs=1,
    tags=["optionsv4", "backtest"],
    doc_md=__doc__,
    params={
        "from_date": Param(type="string", format="date", title="From", description="first entry date, YYYY-MM-DD"),
        "to_date": Param(type="string", format="date", title="To",
                         description="last entry date, YYYY-MM-DD (inclusive)"),
        "risk_profile": Param("moderate", enum=["conservative", "moderate", "aggressive"], title="Risk profile"),
        "source": Param("synthetic", enum=["synthetic", "snapshot", "bhavcopy", "dhan-expired"], title="Market data"),
        "bhavcopy_dir": Param(None, type=["null", "string"], title="Bhavcopy folder",
                              description="source bhavcopy: the folder of NSE F&O bhavcopies"),
        "expired_dir": Param(None, type=["null", "string"], title="Expired-options cache",
                             description="source dhan-expired: the cache (default <data dir>/dhan_expired)"),
        "index_history": Param(None, type=["null", "string"], title="NIFTY history",
                               description="source bhavcopy or dhan-expired: CSV with date and close (optional)"),
        "vix_file": Param(None, type=["null", "string"], title="INDIA VIX file",
                          description="source bhavcopy or dhan-expired: NSE's INDIA VIX historical export"),
        "symbols": Param(0, type="integer", minimum=0, title="Symbols",
                         description="only the first N symbols (0 = all)"),
        "top": Param(10, type="integer", minimum=0, title="Strategies per date",
                     description="strategies entered per date (0 = all sized)"),
        "baseline_families": Param(["Short Strangle", "Iron Condor"], type="array", items={"type": "string"},
                                   title="Baseline families",
                                   description="catalog strategies each run as a baseline beside the ranked picks"),
    },
) as dag:

    @task
    def plan() -> list[dict[str, str]]:
        from optionsv4_airflow import run_settings

        from optionsv4_lib.jobs import backtest

        params = get_current_context()["params"]
        planned = backtest.plan(params["from_date"], params["to_date"], settings=run_settings(),
                                risk_profile=params["risk_profile"], source=params["source"], top=params["top"],
                                first=params["symbols"], bhavcopy_dir=params["bhavcopy_dir"],
                                index_history=params["index_history"], vix_file=params["vix_file"],
                                expired_dir=params["expired_dir"], baseline_families=params["baseline_families"])
        print(f"{len(planned['days'])} trade dates: {', '.join(planned['days'])}")
        return [{"backtest_dir": planned["backtest_dir"], "day": day} for day in planned["days"]]

    @task(map_index_template="{{ day }}", **(DATA_RETRIES | {"retries": 2}))  # reading market data
    def simulate(backtest_dir: str, day: str) -> str:
        from optionsv4_airflow import run_settings

        from optionsv4_lib.jobs import backtest

        get_current_context()["day"] = day
        return backtest.simulate(backtest_dir, day, run_settings())

    @task(trigger_rule=TriggerRule.ALL_DONE)
    def report(planned: list[dict[str, str]], entries: list[str]) -> dict:
        from optionsv4_airflow import run_settings

        from optionsv4_lib.jobs import backtest

        outcome = backtest.report(planned[0]["backtest_dir"], list(entries), run_settings())
        print("\n".join([*outcome["summary"], f"Report: {outcome['html']}"]))
        return outcome

    planned = plan()  # one {backtest_dir, day} per trade date: the simulate tasks' arguments
    report(planned, simulate.expand_kwargs(planned))
