-- Market-consistent valuation (issue 15): both measures per strategy, our IVs beside the broker's, each expiry's
-- fitted smile and its residuals per quote, and what a symbol's analysis left out or fell back on.

ALTER TABLE run_symbols
    ADD COLUMN quoted_at timestamptz,                                  -- when the symbol's quotes were taken
    ADD COLUMN note      text;                                         -- far expiry dropped, flat smile, no forecast…

ALTER TABLE strategies
    ADD COLUMN unbounded_profit    boolean,
    ADD COLUMN unbounded_loss      boolean,
    ADD COLUMN pop_market          double precision CHECK (pop_market >= 0 AND pop_market <= 1),  -- the smile
    ADD COLUMN expected_pnl_market double precision,                   -- ₹, the smile, net of costs
    ADD COLUMN edge                double precision,                   -- ₹, expected_pnl_net − expected_pnl_market
    ADD COLUMN forecast_vol        double precision CHECK (forecast_vol > 0),  -- the view's σ, decimal
    ADD COLUMN implied_vol         double precision CHECK (implied_vol > 0);   -- near smile's ATM, decimal
COMMENT ON COLUMN strategies.pop IS 'PoP under the view (forecast vol, state drift), gross of costs';
COMMENT ON COLUMN strategies.expected_pnl IS '₹ under the view, gross of costs';

ALTER TABLE strategy_details
    ADD COLUMN broker_iv double precision CHECK (broker_iv >= 0);       -- the source's IV: a diagnostic

-- One row per fitted expiry of a run's symbol: raw SVI total variance w(k) = a + b(ρ(k−m) + √((k−m)² + σ²)).
CREATE TABLE smile_fits (
    run_id         bigint NOT NULL REFERENCES analysis_runs ON DELETE CASCADE,
    symbol         text NOT NULL,
    expiry         date NOT NULL,
    years          double precision NOT NULL CHECK (years > 0),
    forward        double precision NOT NULL CHECK (forward > 0),     -- ₹
    forward_source text NOT NULL CHECK (forward_source IN ('parity', 'spot_carry')),
    method         text NOT NULL CHECK (method IN ('svi', 'flat')),
    a              double precision NOT NULL,
    b              double precision NOT NULL CHECK (b >= 0),
    rho            double precision NOT NULL CHECK (rho > -1 AND rho < 1),
    m              double precision NOT NULL,
    sigma          double precision NOT NULL CHECK (sigma > 0),
    atm_vol        double precision NOT NULL CHECK (atm_vol >= 0),      -- decimal
    g_min          double precision NOT NULL,                           -- ≥ 0: no butterfly arbitrage
    n_fitted       integer NOT NULL CHECK (n_fitted >= 0),
    n_outside      integer NOT NULL CHECK (n_outside >= 0),             -- fitted quotes priced outside bid–ask
    rms_resid_vol  double precision,                                    -- decimal
    note           text NOT NULL,
    PRIMARY KEY (run_id, symbol, expiry)
);
ALTER TABLE smile_fits ENABLE ROW LEVEL SECURITY;

-- The fit's residual per two-sided quote with a mid IV.
CREATE TABLE smile_quotes (
    run_id       bigint NOT NULL,
    symbol       text NOT NULL,
    expiry       date NOT NULL,
    strike       double precision NOT NULL CHECK (strike > 0),
    option_type  text NOT NULL CHECK (option_type IN ('CE', 'PE')),
    used         boolean NOT NULL,                                      -- in the fit (the OTM side)
    bid          double precision CHECK (bid >= 0),
    ask          double precision CHECK (ask >= 0),
    mid          double precision CHECK (mid >= 0),
    iv_mid       double precision CHECK (iv_mid >= 0),                  -- ours, decimal
    model_iv     double precision CHECK (model_iv >= 0),
    model_price  double precision CHECK (model_price >= 0),             -- ₹ per unit
    resid_vol    double precision,
    resid_inr    double precision,
    inside       boolean NOT NULL,                                      -- model price within [bid, ask]
    broker_iv    double precision CHECK (broker_iv >= 0),
    iv_gap       double precision,                                      -- ours − broker's
    PRIMARY KEY (run_id, symbol, expiry, strike, option_type),
    FOREIGN KEY (run_id, symbol, expiry) REFERENCES smile_fits (run_id, symbol, expiry) ON DELETE CASCADE
);
ALTER TABLE smile_quotes ENABLE ROW LEVEL SECURITY;
