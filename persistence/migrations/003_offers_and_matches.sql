-- Offers and matched trades (issue 7, event schema v4).
-- tickets.offer_open: the ticket has an open swap offer (ticket_offered until
-- ticket_offer_closed, a withdrawal or a transfer).
-- trades.parties: a matched trade's parties as JSON
-- [{"account","give":[…],"receiver","credit_minor","net_cash_minor"}…]; empty
-- proposer/counterparty; accepted_count counts trade_party_accepted events.
ALTER TABLE tickets ADD COLUMN offer_open boolean NOT NULL DEFAULT false;
ALTER TABLE trades ADD COLUMN parties jsonb;
ALTER TABLE trades ADD COLUMN match_key text;
ALTER TABLE trades ADD COLUMN party_count integer NOT NULL DEFAULT 2;
ALTER TABLE trades ADD COLUMN accepted_count integer NOT NULL DEFAULT 0;
