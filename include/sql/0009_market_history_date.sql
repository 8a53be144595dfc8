-- market_conditions.trade_date held the last date of the NIFTY/VIX history the state was classified on (the previous
-- session's, before the open), not the run's trade date, so a run was listed under the wrong day (issue 19.20). The
-- two are now separate: trade_date is the run's (as in analysis_runs), history_date the history's last close.

ALTER TABLE market_conditions ADD COLUMN history_date date;
UPDATE market_conditions m SET history_date = m.trade_date, trade_date = r.trade_date
FROM analysis_runs r WHERE r.run_id = m.run_id;
ALTER TABLE market_conditions ALTER COLUMN history_date SET NOT NULL,
    ADD CONSTRAINT market_conditions_history_check CHECK (history_date <= trade_date);
COMMENT ON COLUMN market_conditions.trade_date IS 'the run''s trade date (analysis_runs.trade_date)';
COMMENT ON COLUMN market_conditions.history_date IS 'last date of the NIFTY and INDIA VIX history classified';
