-- Market data as the pipeline read it: daily candles (NIFTY, INDIA VIX, ...) and option-chain snapshots.
-- Columns follow optionsv4_lib.marketdata.schema (CANDLES, OPTION_CHAIN): ₹ per unit, quantities in units,
-- IV as a decimal.

CREATE TABLE market_data_daily (
    symbol    text NOT NULL,                    -- NIFTY, INDIA VIX, RELIANCE, ...
    date      date NOT NULL,
    open      double precision NOT NULL CHECK (open > 0),
    high      double precision NOT NULL,
    low       double precision NOT NULL CHECK (low > 0),
    close     double precision NOT NULL CHECK (close > 0),
    volume    bigint NOT NULL DEFAULT 0 CHECK (volume >= 0),
    source    text NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, date),
    CONSTRAINT market_data_daily_range_check CHECK (low <= least(open, close) AND high >= greatest(open, close))
);
ALTER TABLE market_data_daily ENABLE ROW LEVEL SECURITY;

CREATE TABLE option_chain_data (
    trade_date       date NOT NULL,
    symbol           text NOT NULL,
    expiry           date NOT NULL,
    strike           double precision NOT NULL CHECK (strike > 0),
    option_type      text NOT NULL CHECK (option_type IN ('CE', 'PE')),
    bid              double precision NOT NULL CHECK (bid >= 0),
    ask              double precision NOT NULL CHECK (ask >= 0),
    ltp              double precision NOT NULL CHECK (ltp >= 0),
    bid_qty          bigint NOT NULL CHECK (bid_qty >= 0),
    ask_qty          bigint NOT NULL CHECK (ask_qty >= 0),
    iv               double precision CHECK (iv >= 0),       -- decimal; NULL when unknown
    delta            double precision,
    gamma            double precision,
    theta            double precision,                       -- ₹ per calendar day per unit
    vega             double precision,                       -- ₹ per volatility point per unit
    oi               bigint NOT NULL CHECK (oi >= 0),
    volume           bigint NOT NULL CHECK (volume >= 0),
    underlying_price double precision NOT NULL CHECK (underlying_price > 0),
    security_id      bigint,
    source           text NOT NULL,
    captured_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (trade_date, symbol, expiry, strike, option_type),
    CONSTRAINT option_chain_data_expiry_check CHECK (expiry >= trade_date)
);
ALTER TABLE option_chain_data ENABLE ROW LEVEL SECURITY;
