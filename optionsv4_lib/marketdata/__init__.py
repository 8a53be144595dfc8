"""Market data: canonical schemas, the source protocol, chain checks, and the sources (synthetic, Parquet
snapshots); the Dhan source lives in adapters.dhan and jobs.venues opens any of them by name."""
