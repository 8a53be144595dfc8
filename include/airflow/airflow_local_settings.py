"""Airflow's local-settings hook for OptionsV4 (imported by every Airflow process that finds it on sys.path:
`make airflow`, `make airflow-celery`, the bench and the real-scheduler tests put include/airflow/ there).

In the processes that run tasks — the scheduler, whose LocalExecutor forks its workers from it at start, and a
Celery worker, which forks its pool — it imports the library's job modules and Great Expectations once. Every task
process is forked from those and starts with them loaded, instead of importing pandas, SciPy, matplotlib and GX
again (~2-5 s a task on 2 cores; README: "Airflow under a real scheduler"). Other processes (API server, DAG
processor, triggerer, the CLI) import nothing more.
"""

import sys

TASK_RUNNERS = ("scheduler", "celery")  # `airflow scheduler`, `airflow celery worker`

if len(sys.argv) > 1 and sys.argv[1] in TASK_RUNNERS:
    import great_expectations  # noqa: F401
    import optionsv4_lib.jobs.daily  # noqa: F401
    import optionsv4_lib.quality.suites  # noqa: F401
