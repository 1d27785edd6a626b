-- The marketplace served from PostgreSQL (tt-node --marketplace-source
-- postgres; nodes/pg_market.cpp). It answers exactly what the in-memory index
-- (actors/market_index.cpp) answers, so the columns below follow its rules:
--   search_text  " w1 w2 ... ": the words of event_name, venue and category —
--                runs of ASCII letters/digits and non-ASCII characters,
--                ASCII letters lower-cased; every other ASCII character
--                separates. A query word w matches when ' ' || w occurs.
--   starts_at_ms the event start in ms since the epoch, 0 when unknown.
--   created_ms   created_at in ms (the first listing).
-- Pages are ordered by (sort value, id in byte order), the cursor's order.
-- A trigger keeps the columns in step with the projected ones, so the
-- projector's row mapping does not change.
ALTER TABLE tickets ADD COLUMN search_text text NOT NULL DEFAULT ' ';
ALTER TABLE tickets ADD COLUMN starts_at_ms bigint NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN created_ms bigint NOT NULL DEFAULT 0;

CREATE FUNCTION tt_market_words(t text) RETURNS text LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT ' ' || btrim(regexp_replace(
           translate(t, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'),
           '[\x01-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]+', ' ', 'g'), ' ') || ' '
$$;

CREATE FUNCTION tt_tickets_market_columns() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.search_text := tt_market_words(NEW.event_name || ' ' || NEW.venue || ' ' || NEW.category);
  NEW.starts_at_ms := COALESCE((extract(epoch FROM NEW.event_starts_at) * 1000)::bigint, 0);
  NEW.created_ms := (extract(epoch FROM NEW.created_at) * 1000)::bigint;
  RETURN NEW;
END
$$;

CREATE TRIGGER tickets_market_columns
  BEFORE INSERT OR UPDATE OF event_name, venue, category, event_starts_at, created_at ON tickets
  FOR EACH ROW EXECUTE FUNCTION tt_tickets_market_columns();

UPDATE tickets SET event_name = event_name;  -- rows projected before this migration

CREATE INDEX tickets_market_price ON tickets (price_minor, id COLLATE "C") WHERE status = 'listed';
CREATE INDEX tickets_market_starts ON tickets (starts_at_ms, id COLLATE "C") WHERE status = 'listed';
CREATE INDEX tickets_market_created ON tickets (created_ms, id COLLATE "C") WHERE status = 'listed';
