"""OptionsV4: options-strategy analysis, sizing and execution for NSE F&O.

The library holds all domain logic and imports nothing from Airflow; the CLI and the DAGs are thin wiring.
"""

__version__ = "0.1.0"
