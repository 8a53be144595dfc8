-- One analysis run per (trade date, risk profile) and everything it produced, as optionsv4_lib.results
-- defines it. Children hang off analysis_runs with ON DELETE CASCADE; a re-run keeps its run_id and replaces
-- the children in one transaction. Money in ₹ for the whole position unless a column says otherwise.

CREATE TABLE analysis_runs (
    run_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    trade_date      date NOT NULL,
    risk_profile    text NOT NULL CHECK (risk_profile IN ('conservative', 'moderate', 'aggressive')),
    source          text NOT NULL,                            -- market-data source, e.g. synthetic, dhan
    capital         double precision NOT NULL CHECK (capital > 0),
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz NOT NULL,
    symbols_total   integer NOT NULL CHECK (symbols_total >= 0),
    symbols_ok      integer NOT NULL CHECK (symbols_ok >= 0 AND symbols_ok <= symbols_total),
    n_strategies    integer NOT NULL CHECK (n_strategies >= 0),
    capital_at_risk double precision NOT NULL CHECK (capital_at_risk >= 0),
    settings        jsonb NOT NULL DEFAULT '{}',
    loaded_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (trade_date, risk_profile),
    CONSTRAINT analysis_runs_finished_check CHECK (finished_at >= started_at)
);
ALTER TABLE analysis_runs ENABLE ROW LEVEL SECURITY;

CREATE TABLE market_conditions (
    run_id               bigint PRIMARY KEY REFERENCES analysis_runs ON DELETE CASCADE,
    trade_date           date NOT NULL,
    state                text NOT NULL,
    direction            text NOT NULL CHECK (direction IN ('Bullish', 'Bearish', 'Neutral')),
    direction_confidence double precision NOT NULL CHECK (direction_confidence >= 0 AND direction_confidence <= 1),
    vix                  double precision NOT NULL CHECK (vix > 0),                 -- INDIA VIX points
    vix_regime           text NOT NULL CHECK (vix_regime IN ('Low', 'Normal', 'High')),
    vix_percentile       double precision NOT NULL CHECK (vix_percentile >= 0 AND vix_percentile <= 100),
    pcr_oi               double precision CHECK (pcr_oi >= 0),
    pcr_volume           double precision CHECK (pcr_volume >= 0),
    indicators           jsonb NOT NULL,
    votes                jsonb NOT NULL,
    explanation          text[] NOT NULL,
    CONSTRAINT market_conditions_state_check CHECK (state = direction || ' / ' || vix_regime || ' VIX')
);
CREATE INDEX market_conditions_trade_date ON market_conditions (trade_date);
ALTER TABLE market_conditions ENABLE ROW LEVEL SECURITY;

CREATE TABLE run_symbols (
    run_id        bigint NOT NULL REFERENCES analysis_runs ON DELETE CASCADE,
    symbol        text NOT NULL,
    ordinal       integer NOT NULL,
    sector        text NOT NULL,
    industry      text NOT NULL,
    position_type text CHECK (position_type IN ('LONG', 'SHORT', 'NEUTRAL')),
    status        text NOT NULL CHECK (status IN ('ok', 'failed', 'skipped')),
    reason        text,
    spot          double precision CHECK (spot > 0),
    atm_iv        double precision CHECK (atm_iv >= 0),                      -- decimal
    iv_rank       double precision CHECK (iv_rank >= 0 AND iv_rank <= 100),  -- %
    n_candidates  integer CHECK (n_candidates >= 0),
    n_selected    integer NOT NULL CHECK (n_selected >= 0),
    PRIMARY KEY (run_id, symbol),
    CONSTRAINT run_symbols_reason_check CHECK (status = 'ok' OR reason IS NOT NULL)
);
ALTER TABLE run_symbols ENABLE ROW LEVEL SECURITY;

CREATE TABLE run_industries (
    run_id        bigint NOT NULL REFERENCES analysis_runs ON DELETE CASCADE,
    industry      text NOT NULL,
    ordinal       integer NOT NULL,
    sector        text,
    position_type text CHECK (position_type IN ('LONG', 'SHORT', 'NEUTRAL')),
    budget        double precision NOT NULL CHECK (budget >= 0),            -- ₹ of capital at risk allowed
    used          double precision NOT NULL CHECK (used >= 0),              -- ₹ of capital at risk taken
    utilisation   double precision CHECK (utilisation >= 0),                -- used / budget
    n_strategies  integer NOT NULL CHECK (n_strategies >= 0),
    PRIMARY KEY (run_id, industry)
);
ALTER TABLE run_industries ENABLE ROW LEVEL SECURITY;

CREATE TABLE strategies (
    strategy_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id           bigint NOT NULL REFERENCES analysis_runs ON DELETE CASCADE,
    candidate_id     text NOT NULL,                                   -- SYMBOL:strategy-name:variant
    symbol           text NOT NULL,
    sector           text,
    industry         text,
    position_type    text CHECK (position_type IN ('LONG', 'SHORT', 'NEUTRAL')),
    strategy         text NOT NULL,
    family           text NOT NULL CHECK (family IN ('directional', 'neutral', 'volatility', 'income', 'advanced')),
    view             text NOT NULL,
    risk_type        text NOT NULL CHECK (risk_type IN ('defined', 'undefined')),
    variant          jsonb NOT NULL DEFAULT '{}',
    expiry           date NOT NULL,
    far_expiry       date CHECK (far_expiry > expiry),
    dte_days         double precision NOT NULL CHECK (dte_days >= 0),
    spot             double precision NOT NULL CHECK (spot > 0),
    lot_size         integer NOT NULL CHECK (lot_size > 0),
    atm_iv           double precision CHECK (atm_iv >= 0),
    lots             integer NOT NULL CHECK (lots > 0),
    net_premium      double precision NOT NULL,                        -- > 0 credit, < 0 debit
    max_profit       double precision NOT NULL,                        -- 'Infinity' when unbounded
    max_loss         double precision NOT NULL,                        -- '-Infinity' when unbounded
    breakevens       double precision[] NOT NULL DEFAULT '{}',         -- ₹ underlying prices
    pop              double precision NOT NULL CHECK (pop >= 0 AND pop <= 1),
    pop_net          double precision CHECK (pop_net >= 0 AND pop_net <= 1),
    expected_pnl     double precision,
    expected_pnl_net double precision,
    capital_at_risk  double precision NOT NULL CHECK (capital_at_risk >= 0 AND capital_at_risk < 'Infinity'),
    reward_risk      double precision,
    return_on_risk   double precision,
    delta            double precision,                                 -- position greeks, whole position
    gamma            double precision,
    vega             double precision,
    theta            double precision,
    costs            double precision CHECK (costs >= 0),
    min_oi           double precision CHECK (min_oi >= 0),
    max_spread_pct   double precision CHECK (max_spread_pct >= 0),
    score            double precision NOT NULL,
    rank             integer NOT NULL CHECK (rank >= 1),
    rationale        text,
    budget_binding   text CHECK (budget_binding IN ('symbol_budget', 'per_trade', 'industry', 'total', 'max_lots')),
    UNIQUE (run_id, candidate_id),
    CONSTRAINT strategies_profit_loss_check CHECK (max_profit >= max_loss)
);
CREATE INDEX strategies_run_industry ON strategies (run_id, industry, score DESC);
CREATE INDEX strategies_symbol ON strategies (symbol);
ALTER TABLE strategies ENABLE ROW LEVEL SECURITY;

-- The legs (the old system's strategy_details); qty in units for the whole position.
CREATE TABLE strategy_details (
    run_id       bigint NOT NULL,
    candidate_id text NOT NULL,
    leg_no       smallint NOT NULL CHECK (leg_no >= 0),
    instrument   text NOT NULL CHECK (instrument IN ('CE', 'PE', 'STK')),
    side         text NOT NULL CHECK (side IN ('BUY', 'SELL')),
    ratio        double precision NOT NULL CHECK (ratio > 0),          -- lots per strategy lot
    strike       double precision CHECK (strike > 0),
    expiry       date,
    qty          integer NOT NULL CHECK (qty > 0),
    bid          double precision CHECK (bid >= 0),
    ask          double precision CHECK (ask >= 0),
    mid          double precision CHECK (mid >= 0),
    entry_price  double precision NOT NULL CHECK (entry_price >= 0),   -- ₹ per unit
    iv           double precision CHECK (iv >= 0),
    delta        double precision,
    oi           bigint CHECK (oi >= 0),
    volume       bigint CHECK (volume >= 0),
    security_id  bigint,
    touch_prob   double precision CHECK (touch_prob >= 0 AND touch_prob <= 1),
    PRIMARY KEY (run_id, candidate_id, leg_no),
    FOREIGN KEY (run_id, candidate_id) REFERENCES strategies (run_id, candidate_id) ON DELETE CASCADE,
    CONSTRAINT strategy_details_option_check CHECK (instrument = 'STK' OR (strike IS NOT NULL AND expiry IS NOT NULL))
);
ALTER TABLE strategy_details ENABLE ROW LEVEL SECURITY;

CREATE TABLE strategy_exit_conditions (
    run_id       bigint NOT NULL,
    candidate_id text NOT NULL,
    exit_no      smallint NOT NULL CHECK (exit_no >= 0),
    kind         text NOT NULL CHECK (kind IN ('profit_target', 'stop_loss', 'time_exit', 'short_delta',
                                               'position_delta', 'position_gamma', 'position_vega', 'adjustment')),
    metric       text,
    comparison   text CHECK (comparison IN ('≥', '≤')),
    threshold    double precision,
    unit         text,
    leg_no       smallint,
    action       text NOT NULL,
    description  text NOT NULL,
    PRIMARY KEY (run_id, candidate_id, exit_no),
    FOREIGN KEY (run_id, candidate_id) REFERENCES strategies (run_id, candidate_id) ON DELETE CASCADE,
    FOREIGN KEY (run_id, candidate_id, leg_no) REFERENCES strategy_details (run_id, candidate_id, leg_no)
        ON DELETE CASCADE,
    CONSTRAINT strategy_exit_conditions_rule_check
        CHECK (kind = 'adjustment' OR (metric IS NOT NULL AND comparison IS NOT NULL AND threshold IS NOT NULL))
);
ALTER TABLE strategy_exit_conditions ENABLE ROW LEVEL SECURITY;

-- Data-quality checks (Great Expectations results), per run or standalone (run_id NULL).
CREATE TABLE data_quality_results (
    result_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id      bigint REFERENCES analysis_runs ON DELETE CASCADE,
    trade_date  date NOT NULL,
    suite       text NOT NULL,
    subject     text,
    expectation text NOT NULL,
    column_name text,
    severity    text NOT NULL CHECK (severity IN ('critical', 'warning', 'info')),
    success     boolean NOT NULL,
    observed    text,
    unexpected_count integer,
    details     jsonb NOT NULL DEFAULT '{}',
    checked_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX data_quality_results_run ON data_quality_results (run_id);
CREATE INDEX data_quality_results_trade_date ON data_quality_results (trade_date, suite);
ALTER TABLE data_quality_results ENABLE ROW LEVEL SECURITY;
