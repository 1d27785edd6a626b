@0xb93d84584ff6b8b9;
# The durable vocabulary of Ticket Trader: every state change is one `Event`,
# written once to the journal and never rewritten. Evolution rules (checked by
# the golden-file tests in tests/golden/):
#   - never renumber or retype a field; only append new fields with new ordinals;
#   - new event kinds are new members of the `payload` union;
#   - readers must accept unknown union members (they decode as `unknown`-like
#     via `which()` returning a value the reader does not know).
using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("tt::schema");

enum EntityKind {
  unknown @0;
  ticket @1;
  account @2;
  trade @3;
  escrow @4;
  emailIndex @5;
  wallet @6;
}

enum Platform {
  upload @0;
  ticketmaster @1;
  axs @2;
  seatgeek @3;
  nft @4;
}

enum TicketStatus {
  listed @0;
  withdrawn @1;
  held @2;
  inEscrow @3;
  transferred @4;
}

# Who caused an event: the authenticated user (empty for anonymous) and a
# hash of the device fingerprint header the edge saw.
struct Actor {
  userId @0 :Text;
  deviceHash @1 :Text;
  ip @2 :Text;
}

# The facts of a ticket that the seller provides. Money in integer minor units.
struct TicketFields {
  eventId @0 :Text;
  eventName @1 :Text;
  venue @2 :Text;
  category @3 :Text;
  eventStartsAtMs @4 :Int64;
  section @5 :Text;
  row @6 :Text;
  seats @7 :List(Text);
  faceValueMinor @8 :Int64;
  priceMinor @9 :Int64;
  currency @10 :Text;
  platform @11 :Platform;
}

struct TicketListed {
  fields @0 :TicketFields;
  seller @1 :Text;
  # Keyed BLAKE2b of the barcode (hex); safe to leave the node.
  barcodeHash @2 :Text;
  # The barcode sealed with the node's secret key (XChaCha20-Poly1305); only
  # the ticket entity opens it (escrow verification, transfers).
  barcodeSealed @3 :Data;
  dedupHash @4 :Text;
}

# A partial update: only fields whose `has*` flag is set change.
struct TicketUpdated {
  hasPrice @0 :Bool;
  priceMinor @1 :Int64;
  hasEventName @2 :Bool;
  eventName @3 :Text;
  hasVenue @4 :Bool;
  venue @5 :Text;
  hasCategory @6 :Bool;
  category @7 :Text;
  hasEventStartsAt @8 :Bool;
  eventStartsAtMs @9 :Int64;
}

struct TicketWithdrawn {
  reason @0 :Text;
}

# An account came into being. The password hash (argon2id, PHC string) is
# sealed with the node key: tailers and projections never see it.
struct AccountRegistered {
  email @0 :Text;          # normalised (lower case)
  displayName @1 :Text;
  passwordSealed @2 :Data;
}

# A login opened a refresh-token family; `tokenHash` is the keyed hash of the
# family's current refresh token.
struct SessionStarted {
  familyId @0 :Text;
  tokenHash @1 :Text;
}

# A refresh token was used and replaced by the next one of its family.
struct SessionRotated {
  familyId @0 :Text;
  tokenHash @1 :Text;
}

# A family ended: logout, reuse of an old token (theft), or eviction.
struct SessionRevoked {
  familyId @0 :Text;
  reason @1 :Text;
}

# The email index: this normalised email belongs to this account.
struct EmailClaimed {
  accountId @0 :Text;
}

# -- settlement (schema v2 additions; v1 bytes decode unchanged) ------------

# A trade put the ticket on hold (it may be in at most one open trade).
struct TicketHeld {
  tradeId @0 :Text;
  owner @1 :Text;
}

# The trade that held the ticket let it go (listed again).
struct TicketReleased {
  tradeId @0 :Text;
}

# The owner uploaded the barcode into the trade's escrow and it matched.
struct TicketDeposited {
  tradeId @0 :Text;
}

# Ownership moved (a completed trade or a direct transfer, `tradeId` names it).
struct TicketTransferred {
  tradeId @0 :Text;
  fromOwner @1 :Text;
  toOwner @2 :Text;
}

# Double-entry: money moves from one ledger account to another. The user
# accounts are those of the wallet's owner; the platform and external
# accounts are global. Every posting balances by construction.
enum LedgerAccount {
  external @0;
  userAvailable @1;
  userHeld @2;
  platformEscrow @3;
  platformFees @4;
}

struct Posting {
  from @0 :LedgerAccount;
  to @1 :LedgerAccount;
  amountMinor @2 :Int64;
}

enum WalletOp {
  deposit @0;
  withdrawal @1;
  hold @2;
  release @3;
  capture @4;
  payout @5;
}

# One wallet operation and the postings it made. `ref` is its idempotency key
# (the client's Idempotency-Key, or the payment intent id of a trade).
struct WalletPosted {
  op @0 :WalletOp;
  ref @1 :Text;
  currency @2 :Text;
  amountMinor @3 :Int64;
  requestHash @4 :Text;
  postings @5 :List(Posting);
  counterparty @6 :Text;
}

enum TradeStatus {
  proposing @0;
  proposed @1;
  accepted @2;
  inEscrow @3;
  transferring @4;
  completed @5;
  releasing @6;
  declined @7;
  cancelled @8;
  expired @9;
  rejected @10;
  disputed @11;
  refunded @12;
}

# The trade saga began: holds of the proposer's side are being placed.
struct TradeProposed {
  proposer @0 :Text;
  counterparty @1 :Text;
  give @2 :List(Text);
  take @3 :List(Text);
  proposerPaysMinor @4 :Int64;
  counterpartyPaysMinor @5 :Int64;
  currency @6 :Text;
  expiresAtMs @7 :Int64;
  requestHash @8 :Text;
  feeBps @9 :UInt32;
}

# The saga moved; `target` is the final status a `releasing` trade ends in.
struct TradeStatusChanged {
  status @0 :TradeStatus;
  target @1 :TradeStatus;
  reason @2 :Text;
  parties @3 :List(Text);  # proposer, counterparty: who is told about it
}

struct TradeCashAdded {
  party @0 :Text;
  amountMinor @1 :Int64;
}

# A ticket of the trade is in escrow (its barcode matched).
struct TradeDeposit {
  ticketId @0 :Text;
}

struct TradeDisputed {
  by @0 :Text;
  reason @1 :Text;
}

# -- valuation (schema v3 additions; v1 and v2 bytes decode unchanged) -------

# The valuation service priced the ticket (docs/valuation.md). Written only
# when the model version, the method or the credit differs from the ticket's
# last recorded valuation. No floating point: the confidence is in parts per
# million (0..1000000).
struct TicketValued {
  creditMinor @0 :Int64;
  currency @1 :Text;
  confidencePpm @2 :UInt32;
  modelVersion @3 :Text;
  method @4 :Text;          # "model" | "median_fallback" | "model_low_confidence"
  medianSamples @5 :UInt32; # resales behind a median_fallback; 0 otherwise
}

# v4 (issue #7): the owner offers the ticket for a swap. At most one open
# offer per ticket; its id is the ticket id. Wants: an empty list means any.
struct TicketOffered {
  wantEventIds @0 :List(Text);
  wantCategories @1 :List(Text);
  wantVenues @2 :List(Text);
  maxCashMinor @3 :Int64;
  # The owner's taste over the matcher's preference dimensions, per mille.
  weightsPermille @4 :List(Int16);
}

# The offer ended: withdrawn by the owner, or the ticket left the owner.
struct TicketOfferClosed {
  reason @0 :Text;
}

# One party of a system-proposed (matched) trade: it gives `give` to party
# `receiver` and pays `netCashMinor` (> 0) or is paid its absolute value (< 0).
struct TradeParty {
  account @0 :Text;
  give @1 :List(Text);
  receiver @2 :UInt32;
  creditMinor @3 :Int64;
  netCashMinor @4 :Int64;
}

# v4: the matcher proposed an N-party trade (2-way swap or 3-cycle); every
# party must accept. `matchKey` names the match (the offers and versions).
struct TradeMatched {
  parties @0 :List(TradeParty);
  currency @1 :Text;
  expiresAtMs @2 :Int64;
  feeBps @3 :UInt32;
  matchKey @4 :Text;
}

# v4: one party of a matched trade accepted (its tickets and cash are held).
struct TradePartyAccepted {
  party @0 :Text;
  expiresAtMs @1 :Int64;  # v5: the last acceptance's new deadline; 0 = unchanged
}

struct Event {
  schemaVersion @0 :UInt16;
  entityKind @1 :EntityKind;
  entityId @2 :Text;
  seq @3 :UInt64;
  timestampMs @4 :Int64;
  eventId @5 :Text;
  causationId @6 :Text;
  correlationId @7 :Text;
  actor @8 :Actor;
  payload :union {
    none @9 :Void;
    ticketListed @10 :TicketListed;
    ticketUpdated @11 :TicketUpdated;
    ticketWithdrawn @12 :TicketWithdrawn;
    accountRegistered @13 :AccountRegistered;
    sessionStarted @14 :SessionStarted;
    sessionRotated @15 :SessionRotated;
    sessionRevoked @16 :SessionRevoked;
    emailClaimed @17 :EmailClaimed;
    ticketHeld @18 :TicketHeld;
    ticketReleased @19 :TicketReleased;
    ticketDeposited @20 :TicketDeposited;
    ticketTransferred @21 :TicketTransferred;
    walletPosted @22 :WalletPosted;
    tradeProposed @23 :TradeProposed;
    tradeStatusChanged @24 :TradeStatusChanged;
    tradeCashAdded @25 :TradeCashAdded;
    tradeDeposit @26 :TradeDeposit;
    tradeDisputed @27 :TradeDisputed;
    ticketValued @28 :TicketValued;
    ticketOffered @29 :TicketOffered;
    ticketOfferClosed @30 :TicketOfferClosed;
    tradeMatched @31 :TradeMatched;
    tradePartyAccepted @32 :TradePartyAccepted;
  }
}

# Snapshots: the whole state of one entity after event `seq`.
struct TicketState {
  fields @0 :TicketFields;
  seller @1 :Text;
  status @2 :TicketStatus;
  barcodeHash @3 :Text;
  barcodeSealed @4 :Data;
  dedupHash @5 :Text;
  createdAtMs @6 :Int64;
  updatedAtMs @7 :Int64;
  holdTradeId @8 :Text;     # the open trade holding it; empty if none
  lastTransferRef @9 :Text; # the trade/transfer that last moved it
  transferRefs @10 :List(Text);  # every trade/transfer that moved it, oldest first
  # v3: the last recorded valuation (TicketValued); empty/0 if none.
  valuationVersion @11 :Text;
  valuationMethod @12 :Text;
  valuationCreditMinor @13 :Int64;
  # v4: the ticket's swap offer (open or the last one) and when it opened.
  offerOpen @14 :Bool;
  offer @15 :TicketOffered;
  offerAtMs @16 :Int64;
}

struct Session {
  familyId @0 :Text;
  tokenHash @1 :Text;
  generation @2 :UInt32;
  startedAtMs @3 :Int64;
  lastUsedMs @4 :Int64;
}

struct AccountState {
  email @0 :Text;
  displayName @1 :Text;
  passwordSealed @2 :Data;
  createdAtMs @3 :Int64;
  sessions @4 :List(Session);
}

struct EmailClaimState {
  accountId @0 :Text;
  claimedAtMs @1 :Int64;
}

struct WalletHold {
  ref @0 :Text;
  amountMinor @1 :Int64;
}

# What an idempotency key (or intent ref) did; replays answer from here.
struct WalletRef {
  ref @0 :Text;
  op @1 :WalletOp;
  amountMinor @2 :Int64;
  requestHash @3 :Text;
  availableAfter @4 :Int64;
  heldAfter @5 :Int64;
  atMs @6 :Int64;
}

struct WalletState {
  currency @0 :Text;
  availableMinor @1 :Int64;
  heldMinor @2 :Int64;
  holds @3 :List(WalletHold);
  refs @4 :List(WalletRef);
  createdAtMs @5 :Int64;
  updatedAtMs @6 :Int64;
}

struct TradeState {
  proposer @0 :Text;
  counterparty @1 :Text;
  give @2 :List(Text);
  take @3 :List(Text);
  proposerPaysMinor @4 :Int64;
  counterpartyPaysMinor @5 :Int64;
  currency @6 :Text;
  expiresAtMs @7 :Int64;
  requestHash @8 :Text;
  feeBps @9 :UInt32;
  status @10 :TradeStatus;
  target @11 :TradeStatus;
  reason @12 :Text;
  deposited @13 :List(Text);
  createdAtMs @14 :Int64;
  updatedAtMs @15 :Int64;
  disputeReason @16 :Text;
  disputedBy @17 :Text;
  # v4: matched trades (`parties` non-empty; proposer/counterparty empty).
  parties @18 :List(TradeParty);
  accepted @19 :List(Text);
  matchKey @20 :Text;
}

struct Snapshot {
  schemaVersion @0 :UInt16;
  entityKind @1 :EntityKind;
  entityId @2 :Text;
  seq @3 :UInt64;
  takenAtMs @4 :Int64;
  state :union {
    none @5 :Void;
    ticket @6 :TicketState;
    account @7 :AccountState;
    emailClaim @8 :EmailClaimState;
    wallet @9 :WalletState;
    trade @10 :TradeState;
  }
}
