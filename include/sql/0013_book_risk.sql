-- Margin and the book's risk (issue 16): what a broker blocks per strategy, each strategy's worst stress P&L,
-- each symbol's beta to NIFTY, and per run the book's greeks, margin and stress table.

ALTER TABLE run_symbols
    ADD COLUMN beta double precision;                                   -- to NIFTY, from daily returns

ALTER TABLE strategies
    ADD COLUMN margin       double precision CHECK (margin >= 0),       -- ₹, SPAN-style scenarios + exposure
    ADD COLUMN worst_stress double precision CHECK (worst_stress <= 0), -- ₹, the worst stress scenario's P&L
    ADD COLUMN stress_pnl   double precision[];                         -- ₹ per scenario, in run_book_stress order

-- One row per run: the book's greeks in NIFTY terms, its margin and its worst stress P&L beside the limits.
CREATE TABLE run_book (
    run_id          bigint PRIMARY KEY REFERENCES analysis_runs ON DELETE CASCADE,
    delta_nifty_inr double precision NOT NULL,                          -- ₹ of NIFTY notional, same first-order P&L
    gamma_nifty_inr double precision NOT NULL,                          -- ₹ change of that delta per 1 % NIFTY move
    vega            double precision NOT NULL,                          -- ₹ per vol point
    theta           double precision NOT NULL,                          -- ₹ per calendar day
    margin          double precision NOT NULL CHECK (margin >= 0),      -- ₹, the book margined as one
    margin_sum      double precision NOT NULL CHECK (margin_sum >= 0),  -- ₹, the strategies' margins added
    worst_stress    double precision NOT NULL CHECK (worst_stress <= 0),
    margin_limit    double precision NOT NULL CHECK (margin_limit > 0),
    stress_limit    double precision NOT NULL CHECK (stress_limit < 0)
);

-- The book's stress table: every NIFTY gap × vol shift of the run's grid.
CREATE TABLE run_book_stress (
    run_id          bigint NOT NULL REFERENCES analysis_runs ON DELETE CASCADE,
    scenario        text NOT NULL,                                      -- 'NIFTY −10 %, IV +50 %'
    nifty_move      double precision NOT NULL,                          -- decimal
    vol_shift       double precision NOT NULL,                          -- relative, decimal
    pnl             double precision NOT NULL,                          -- ₹
    pnl_pct_capital double precision NOT NULL,                          -- % of capital
    PRIMARY KEY (run_id, nifty_move, vol_shift)
);
ALTER TABLE run_book ENABLE ROW LEVEL SECURITY;
ALTER TABLE run_book_stress ENABLE ROW LEVEL SECURITY;

-- The sizing limits that can bind now include the strategy-type share, margin and the book's stress.
ALTER TABLE strategies DROP CONSTRAINT strategies_budget_binding_check;
ALTER TABLE strategies ADD CONSTRAINT strategies_budget_binding_check CHECK (budget_binding IN
    ('symbol_budget', 'per_trade', 'industry', 'total', 'strategy_share', 'margin', 'stress', 'max_lots'));
