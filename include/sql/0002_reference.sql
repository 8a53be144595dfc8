-- Reference data: the F&O universe, the desk's sector and industry allocations, Dhan's instrument master.

CREATE TABLE stock_mappings (
    symbol             text PRIMARY KEY,
    name               text NOT NULL,
    sector             text NOT NULL,
    industry           text NOT NULL,
    lot_size           integer NOT NULL CHECK (lot_size > 0),                 -- units per F&O lot
    dhan_security_id   bigint NOT NULL,                                       -- Dhan id of the underlying
    underlying_segment text NOT NULL CHECK (underlying_segment IN ('IDX_I', 'NSE_EQ')),
    approx_price_inr   double precision CHECK (approx_price_inr > 0),        -- ₹, synthetic data only
    strike_step        double precision CHECK (strike_step > 0),             -- ₹
    ordinal            integer NOT NULL UNIQUE,                               -- position in the source file
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stock_mappings_industry ON stock_mappings (industry);
ALTER TABLE stock_mappings ENABLE ROW LEVEL SECURITY;

CREATE TABLE sector_allocations_current (
    sector     text PRIMARY KEY,
    weight_pct double precision NOT NULL CHECK (weight_pct >= 0 AND weight_pct <= 100),  -- % of capital
    as_of      date NOT NULL,
    note       text,
    ordinal    integer NOT NULL UNIQUE,
    updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE sector_allocations_current ENABLE ROW LEVEL SECURITY;

CREATE TABLE industry_allocations_current (
    industry      text PRIMARY KEY,
    sector        text NOT NULL,
    weight_pct    double precision NOT NULL CHECK (weight_pct >= 0 AND weight_pct <= 100),  -- % of capital
    position_type text NOT NULL CHECK (position_type IN ('LONG', 'SHORT', 'NEUTRAL')),
    as_of         date NOT NULL,
    note          text,
    ordinal       integer NOT NULL UNIQUE,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE industry_allocations_current ENABLE ROW LEVEL SECURITY;

-- Dhan's scrip master (compact or detailed CSV), one row per exchange, segment and security id.
CREATE TABLE instruments (
    exchange               text NOT NULL,            -- NSE, BSE, MCX
    segment                text NOT NULL,            -- E equity, D derivatives, I index, C currency, M commodity
    security_id            bigint NOT NULL,
    exchange_segment       text NOT NULL,            -- the API's segment: NSE_EQ, NSE_FNO, IDX_I, BSE_FNO, ...
    instrument             text NOT NULL,            -- EQUITY, INDEX, OPTIDX, OPTSTK, FUTIDX, FUTSTK, ...
    underlying_symbol      text,                     -- NIFTY, RELIANCE, ...
    underlying_security_id bigint,                   -- detailed CSV only
    trading_symbol         text,                     -- e.g. NIFTY-Oct2024-25800-CE
    display_name           text,                     -- e.g. NIFTY 24 OCT 25800 CALL
    symbol_name            text,
    isin                   text,
    instrument_type        text,                     -- OP, FUT, ES, INDEX, ...
    series                 text,
    lot_size               double precision CHECK (lot_size >= 0),          -- units
    expiry_date            date,
    strike                 double precision CHECK (strike > 0),             -- ₹, options only
    option_type            text CHECK (option_type IN ('CE', 'PE')),
    tick_size              double precision CHECK (tick_size >= 0),          -- as published (unit unverified)
    expiry_flag            text,                     -- W, M
    source                 text NOT NULL CHECK (source IN ('compact', 'detailed')),
    loaded_at              timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (exchange, segment, security_id),
    CONSTRAINT instruments_option_strike_check CHECK ((option_type IS NULL) = (strike IS NULL))
);
CREATE INDEX instruments_option_lookup ON instruments (underlying_symbol, expiry_date, option_type, strike)
    WHERE option_type IS NOT NULL;
ALTER TABLE instruments ENABLE ROW LEVEL SECURITY;
