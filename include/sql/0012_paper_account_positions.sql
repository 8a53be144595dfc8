-- Paper positions in contracts without a security id (no scrip master loaded; the synthetic market) are account rows
-- too (reconcile; leg_no NULL): such a row is keyed by its contract, e.g. 'TATAPOWER 29-Dec-2026 395 PE', in
-- trading_symbol. Live rows keep their security id (positions_snapshots_live_security_check).

ALTER TABLE positions_snapshots DROP CONSTRAINT positions_snapshots_row_kind_check;
ALTER TABLE positions_snapshots ADD CONSTRAINT positions_snapshots_row_kind_check
    CHECK ((leg_no IS NULL AND (security_id IS NOT NULL OR trading_symbol IS NOT NULL))
           OR (leg_no IS NOT NULL AND strategy_id IS NOT NULL));
CREATE UNIQUE INDEX positions_snapshots_account_contract
    ON positions_snapshots (snapshot_at, mode, exchange_segment, trading_symbol) WHERE leg_no IS NULL AND security_id IS NULL;
