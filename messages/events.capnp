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
  }
}
