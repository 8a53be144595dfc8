-- Request pacing shared by every process on one database (issue 18): per key (an API account and rate category,
-- e.g. 'dhan:1000000001:quote') the latest grant times of its rate limiter, so two task processes never break a
-- limit together. Rows are read and written under SELECT … FOR UPDATE by optionsv4_lib.store.pacing.

CREATE TABLE api_pacing (
    key        text PRIMARY KEY,
    grants     double precision[] NOT NULL DEFAULT '{}',  -- s since the epoch (database clock), ascending
    updated_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE api_pacing ENABLE ROW LEVEL SECURITY;
