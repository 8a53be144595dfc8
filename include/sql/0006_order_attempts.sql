-- Execution attempts and paper orders.
-- attempt: the strategy's execution attempt an order belongs to (1, then 2, … when a failed strategy is marked and
-- executed again); it is part of the order's correlation id, so a re-run of the same attempt finds its orders.
-- security_id: paper orders may trade contracts the scrip master does not know (synthetic market data); live orders
-- always carry Dhan's security id.

ALTER TABLE orders ADD COLUMN attempt smallint NOT NULL DEFAULT 1 CHECK (attempt >= 1);
ALTER TABLE orders ALTER COLUMN security_id DROP NOT NULL;
ALTER TABLE orders ADD CONSTRAINT orders_live_security_check CHECK (mode = 'paper' OR security_id IS NOT NULL);
CREATE INDEX orders_strategy_attempt ON orders (strategy_id, attempt);
