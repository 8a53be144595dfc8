-- Revisions of a day's analysis. A re-run of a (trade date, risk profile) whose latest run has strategies marked
-- for execution or traded is stored as the next revision beside it: the traded revision stays as it is, referenced
-- by its status rows, orders and snapshots. A re-run whose latest revision is untouched replaces it in place (and
-- keeps its run_id), so reruns add no clutter. Readers that pick "the run of a date" take its latest revision.

ALTER TABLE analysis_runs ADD COLUMN revision smallint NOT NULL DEFAULT 1 CHECK (revision >= 1);
ALTER TABLE analysis_runs DROP CONSTRAINT analysis_runs_trade_date_risk_profile_key;
ALTER TABLE analysis_runs ADD CONSTRAINT analysis_runs_revision_key UNIQUE (trade_date, risk_profile, revision);
