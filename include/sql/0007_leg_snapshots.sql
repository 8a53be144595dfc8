-- The monitor's marks: one positions_snapshots row per strategy leg (leg_no set), keyed by (snapshot_at, mode,
-- strategy_id, leg_no), with the leg's mark as ltp and its unrealized P&L. Paper legs on the synthetic market have
-- no security id, so security_id may be NULL on leg rows. The broker's account rows (reconcile; leg_no NULL) keep
-- their key (snapshot_at, mode, exchange_segment, security_id).

ALTER TABLE positions_snapshots DROP CONSTRAINT positions_snapshots_pkey;
ALTER TABLE positions_snapshots ADD COLUMN snapshot_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY;
ALTER TABLE positions_snapshots ADD COLUMN leg_no smallint CHECK (leg_no >= 0);
ALTER TABLE positions_snapshots ALTER COLUMN security_id DROP NOT NULL;
ALTER TABLE positions_snapshots ADD CONSTRAINT positions_snapshots_row_kind_check
    CHECK ((leg_no IS NULL AND security_id IS NOT NULL) OR (leg_no IS NOT NULL AND strategy_id IS NOT NULL));
ALTER TABLE positions_snapshots ADD CONSTRAINT positions_snapshots_live_security_check
    CHECK (mode = 'paper' OR security_id IS NOT NULL);
CREATE UNIQUE INDEX positions_snapshots_account
    ON positions_snapshots (snapshot_at, mode, exchange_segment, security_id) WHERE leg_no IS NULL;
CREATE UNIQUE INDEX positions_snapshots_leg
    ON positions_snapshots (snapshot_at, mode, strategy_id, leg_no) WHERE leg_no IS NOT NULL;
