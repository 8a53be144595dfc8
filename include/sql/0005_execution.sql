-- Execution: which strategies were marked, the orders sent for their legs, and position snapshots.
-- These reference strategies ON DELETE RESTRICT: an analysis run whose strategies were marked or traded
-- cannot be replaced by a re-run.

CREATE TABLE strategy_execution_status (
    strategy_id  bigint PRIMARY KEY REFERENCES strategies ON DELETE RESTRICT,
    status       text NOT NULL CHECK (status IN ('marked', 'placing', 'open', 'partially_filled', 'exiting',
                                                 'closed', 'rejected', 'failed', 'cancelled')),
    mode         text NOT NULL CHECK (mode IN ('paper', 'live')),
    lots         integer CHECK (lots > 0),
    entry_value  double precision,                  -- ₹ premium paid (−) or received (+) at entry
    exit_value   double precision,
    realized_pnl double precision,
    note         text,
    marked_at    timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX strategy_execution_status_status ON strategy_execution_status (status);
ALTER TABLE strategy_execution_status ENABLE ROW LEVEL SECURITY;

CREATE TABLE orders (
    order_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    strategy_id      bigint NOT NULL REFERENCES strategies ON DELETE RESTRICT,
    leg_no           smallint NOT NULL CHECK (leg_no >= 0),
    purpose          text NOT NULL CHECK (purpose IN ('entry', 'exit', 'rollback', 'adjustment')),
    correlation_id   text NOT NULL UNIQUE,          -- our idempotency key, sent to the broker
    broker_order_id  text UNIQUE,
    mode             text NOT NULL CHECK (mode IN ('paper', 'live')),
    security_id      bigint NOT NULL,
    exchange_segment text NOT NULL,
    side             text NOT NULL CHECK (side IN ('BUY', 'SELL')),
    quantity         integer NOT NULL CHECK (quantity > 0),                       -- units
    order_type       text NOT NULL CHECK (order_type IN ('LIMIT', 'MARKET')),
    product_type     text NOT NULL,                                               -- MARGIN, INTRADAY, ...
    price            double precision CHECK (price >= 0),                         -- ₹ per unit, LIMIT only
    status           text NOT NULL CHECK (status IN ('NEW', 'TRANSIT', 'PENDING', 'PART_TRADED', 'TRADED',
                                                     'REJECTED', 'CANCELLED', 'EXPIRED')),
    filled_quantity  integer NOT NULL DEFAULT 0 CHECK (filled_quantity >= 0 AND filled_quantity <= quantity),
    average_price    double precision CHECK (average_price >= 0),
    error            text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT orders_limit_price_check CHECK (order_type = 'MARKET' OR price IS NOT NULL)
);
CREATE INDEX orders_strategy ON orders (strategy_id);
CREATE INDEX orders_status ON orders (status);
ALTER TABLE orders ENABLE ROW LEVEL SECURITY;

CREATE TABLE positions_snapshots (
    snapshot_at      timestamptz NOT NULL,
    mode             text NOT NULL CHECK (mode IN ('paper', 'live')),
    exchange_segment text NOT NULL,
    security_id      bigint NOT NULL,
    trading_symbol   text,
    strategy_id      bigint REFERENCES strategies ON DELETE RESTRICT,
    net_qty          integer NOT NULL,                   -- units, > 0 long, < 0 short
    buy_avg          double precision CHECK (buy_avg >= 0),
    sell_avg         double precision CHECK (sell_avg >= 0),
    ltp              double precision CHECK (ltp >= 0),
    unrealized_pnl   double precision,
    realized_pnl     double precision,
    PRIMARY KEY (snapshot_at, mode, exchange_segment, security_id)
);
CREATE INDEX positions_snapshots_strategy ON positions_snapshots (strategy_id, snapshot_at);
ALTER TABLE positions_snapshots ENABLE ROW LEVEL SECURITY;
