-- Read-side projections of the global event log (persistence/pg_projection.cpp).
-- Each projector's committed position: the last log offset whose rows are in
-- this database ("offset" is a reserved word in PostgreSQL: always quote it).
CREATE TABLE projection_offsets (
  name       text PRIMARY KEY,
  "offset"   bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per ticket (its current state).
CREATE TABLE tickets (
  id                 text PRIMARY KEY,
  owner              text NOT NULL,
  status             text NOT NULL,
  event_id           text NOT NULL,
  event_name         text NOT NULL,
  venue              text NOT NULL,
  category           text NOT NULL,
  event_starts_at    timestamptz,
  section            text NOT NULL,
  seat_row           text NOT NULL,
  seats              jsonb NOT NULL DEFAULT '[]',
  face_value_minor   bigint NOT NULL,
  price_minor        bigint NOT NULL,
  currency           text NOT NULL,
  platform           text NOT NULL,
  hold_trade_id      text,
  last_transfer_ref  text,
  withdraw_reason    text,
  created_at         timestamptz NOT NULL,
  updated_at         timestamptz NOT NULL,
  last_offset        bigint NOT NULL
);
CREATE INDEX tickets_owner ON tickets (owner);
CREATE INDEX tickets_event ON tickets (event_id);
CREATE INDEX tickets_status ON tickets (status);

-- One row per trade (its current state).
CREATE TABLE trades (
  id                       text PRIMARY KEY,
  proposer                 text NOT NULL,
  counterparty             text NOT NULL,
  status                   text NOT NULL,
  target                   text,
  reason                   text,
  give                     jsonb NOT NULL DEFAULT '[]',
  take                     jsonb NOT NULL DEFAULT '[]',
  ticket_count             integer NOT NULL DEFAULT 0,
  deposited_count          integer NOT NULL DEFAULT 0,
  proposer_pays_minor      bigint NOT NULL DEFAULT 0,
  counterparty_pays_minor  bigint NOT NULL DEFAULT 0,
  cash_minor               bigint GENERATED ALWAYS AS (proposer_pays_minor - counterparty_pays_minor) STORED,
  currency                 text NOT NULL,
  fee_bps                  integer NOT NULL DEFAULT 0,
  expires_at               timestamptz,
  created_at               timestamptz NOT NULL,
  updated_at               timestamptz NOT NULL,
  last_offset              bigint NOT NULL
);
CREATE INDEX trades_proposer ON trades (proposer);
CREATE INDEX trades_counterparty ON trades (counterparty);
CREATE INDEX trades_status ON trades (status);

-- One row per (trade, ticket) deposit into escrow. The ticket's
-- ticket_deposited and the trade's trade_deposit fill the same row.
CREATE TABLE escrows (
  trade_id             text NOT NULL,
  ticket_id            text NOT NULL,
  status               text NOT NULL,           -- deposited | transferred | released
  ticket_deposited_at  timestamptz,
  trade_recorded_at    timestamptz,
  settled_at           timestamptz,
  updated_at           timestamptz NOT NULL,
  PRIMARY KEY (trade_id, ticket_id)
);
CREATE INDEX escrows_ticket ON escrows (ticket_id);

-- One row per wallet_posted event.
CREATE TABLE payments (
  "offset"      bigint PRIMARY KEY,
  wallet        text NOT NULL,
  op            text NOT NULL,
  ref           text NOT NULL,
  amount_minor  bigint NOT NULL,
  currency      text NOT NULL,
  counterparty  text,
  postings      jsonb NOT NULL DEFAULT '[]',
  at            timestamptz NOT NULL
);
CREATE INDEX payments_wallet ON payments (wallet);
CREATE INDEX payments_ref ON payments (ref);

-- One row per disputed trade; resolution is the final status the operator's
-- decision led to (refunded or completed).
CREATE TABLE disputes (
  trade_id           text PRIMARY KEY,
  disputed_by        text NOT NULL,
  reason             text NOT NULL,
  disputed_at        timestamptz NOT NULL,
  resolution         text,
  resolution_reason  text,
  resolved_at        timestamptz
);

-- One row per event of the log, offsets 1..N without gaps.
CREATE TABLE audit_log (
  "offset"        bigint PRIMARY KEY,
  actor           text,
  action          text NOT NULL,
  entity_kind     text NOT NULL,
  entity_id       text NOT NULL,
  seq             bigint NOT NULL,
  event_id        text,
  correlation_id  text,
  at              timestamptz
);
CREATE INDEX audit_log_entity ON audit_log (entity_kind, entity_id);
CREATE INDEX audit_log_actor ON audit_log (actor);

-- Ticket valuations over time (filled by the valuation issue).
CREATE TABLE valuation_history (
  ticket_id    text NOT NULL,
  at           timestamptz NOT NULL,
  value_minor  bigint NOT NULL,
  currency     text NOT NULL,
  source       text NOT NULL,
  PRIMARY KEY (ticket_id, at, source)
);
