"""Run every benchmark in one process and print one Markdown table (also written to bench/RESULTS.md).

Each bench module exposes rows() -> [{task, implementation, n, seconds, per_item_us, note}]. Peers run side by
side with ours in the same run, on the same inputs. Usage: `make bench` (or `python bench/run.py [module …]`).
"""

import importlib
import os
import platform
import sys
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODULES = ("bench_pricing", "bench_optionlab", "bench_valuation", "bench_analysis", "bench_dhan_faults", "bench_pipeline",
           "bench_dhan_quotes", "bench_airflow", "bench_execution", "bench_backtest", "bench_margin", "bench_bhavcopy")


def machine() -> str:
    """One line naming the machine the numbers come from."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), platform.processor())
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {memory_gib:.0f} GiB, Python {platform.python_version()}, {platform.system()} ({datetime.now():%Y-%m-%d})"


def markdown(rows: list[dict]) -> str:
    lines = ["| task | implementation | n | seconds | µs per item | note |", "|---|---|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['task']} | {r['implementation']} | {r['n']:,} | {r['seconds']:.3f} | {r['per_item_us']:.2f} | {r['note']} |")
    return "\n".join(lines)


def main(names: list[str]) -> None:
    sys.path.insert(0, str(HERE))
    rows = []
    for name in names or MODULES:
        print(f"running {name} …", file=sys.stderr, flush=True)
        rows += importlib.import_module(name).rows()
    text = f"Measured on: {machine()}\n\n{markdown(rows)}\n"
    (HERE / "RESULTS.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main(sys.argv[1:])
