-- Valuations (issue 7): one row per `ticket_valued` event, keyed by its log
-- offset like `payments` (a ticket valued twice in one millisecond by the same
-- method is two rows, which the old key (ticket_id, at, source) refused).
-- `value_minor` is the credit, `source` the method ("model", "median_fallback",
-- "model_low_confidence"); the confidence is in parts per million (integers
-- only, like the event). Nothing wrote this table before, so it is empty.
ALTER TABLE valuation_history DROP CONSTRAINT valuation_history_pkey;
ALTER TABLE valuation_history ADD COLUMN "offset" bigint NOT NULL;
ALTER TABLE valuation_history ADD COLUMN confidence_ppm integer NOT NULL;
ALTER TABLE valuation_history ADD COLUMN model_version text NOT NULL;
ALTER TABLE valuation_history ADD COLUMN median_samples integer NOT NULL DEFAULT 0;
ALTER TABLE valuation_history ADD PRIMARY KEY ("offset");
CREATE INDEX valuation_history_ticket ON valuation_history (ticket_id, at);
