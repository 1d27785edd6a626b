-- Nodes of a cluster may share one database, each projecting its own log
-- under its own projection_offsets row ("node:NAME"); their log offsets are
-- unrelated, so every row keyed by a log offset also names the log it comes
-- from (the projector's name; "main" for a node outside a cluster, which is
-- also what the rows written before this migration came from).
ALTER TABLE audit_log ADD COLUMN log text NOT NULL DEFAULT 'main';
ALTER TABLE audit_log DROP CONSTRAINT audit_log_pkey;
ALTER TABLE audit_log ADD PRIMARY KEY (log, "offset");

ALTER TABLE payments ADD COLUMN log text NOT NULL DEFAULT 'main';
ALTER TABLE payments DROP CONSTRAINT payments_pkey;
ALTER TABLE payments ADD PRIMARY KEY (log, "offset");

ALTER TABLE valuation_history ADD COLUMN log text NOT NULL DEFAULT 'main';
ALTER TABLE valuation_history DROP CONSTRAINT valuation_history_pkey;
ALTER TABLE valuation_history ADD PRIMARY KEY (log, "offset");
