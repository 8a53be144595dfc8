-- Lots belong to contracts: after an NSE lot revision two lots trade side by side (on 24-Jan-2025 NIFTY's 30-Jan
-- contract in 25s, the February weeklies in 75s). strategies.lot_size is the units of one strategy lot (the least
-- common multiple of its legs' contract lots); each leg now records the lot of its own contract, which orders,
-- slices and exits are whole multiples of. Legs stored before this held the strategy's lot (shares: 1 unit).

ALTER TABLE strategy_details ADD COLUMN contract_lot integer CHECK (contract_lot > 0);  -- units per contract lot
UPDATE strategy_details d SET contract_lot = CASE WHEN d.instrument = 'STK' THEN 1 ELSE s.lot_size END
FROM strategies s WHERE s.run_id = d.run_id AND s.candidate_id = d.candidate_id;
ALTER TABLE strategy_details ALTER COLUMN contract_lot SET NOT NULL;
ALTER TABLE strategy_details ADD CONSTRAINT strategy_details_whole_lots_check CHECK (qty % contract_lot = 0);
