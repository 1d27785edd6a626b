// tt_cluster_probe: a test-only peer that speaks the cluster protocol to one
// node's gateway, to drive the receiving side of a shard hand-off directly
// (what a real move only reaches when the sender misbehaves or dies):
//
//   tt_cluster_probe --node HOST:PORT --shard S --from NODE import
//       sends chunk 0 of shard S "from" NODE carrying one timer (timers +
//       timer_idx rows) of a ticket id that lies in shard S; prints the id
//   tt_cluster_probe ... --foreign import   the same, but the id lies in
//       another shard (the node must refuse the chunk as a whole)
//   tt_cluster_probe ... abort              sends the abort of a move of S
//
// The secret comes from TT_ADMIN_SECRET (a node's cluster secret is its admin
// secret). Prints one JSON line: {"ok":true,"written":N,"id":"..."} or
// {"ok":false,"code":"forbidden","message":"..."}; exit 0 either way, 1 when
// the node cannot be reached.

#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "caf/all.hpp"
#include "caf/io/all.hpp"
#include "messages/cluster.hpp"
#include "messages/entity.hpp"
#include "messages/errc.hpp"
#include "messages/cluster_regions.hpp"
#include "messages/system.hpp"

namespace {

/// 8 bytes big-endian (the store's key order).
std::string be64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8)
    out[static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
  return out;
}

/// A 22-character id in shard `shard` (or, with `other`, in any other shard).
std::string id_in_shard(uint32_t shard, bool other) {
  for (uint64_t n = 0;; ++n) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "probe%017llu", static_cast<unsigned long long>(n));
    std::string id{buf};
    if ((tt::shard_of(id) == shard) != other)
      return id;
  }
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    if (static_cast<unsigned char>(c) >= 0x20)
      out += c;
  }
  return out;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"tt_cluster_probe: drive a node's shard import directly (tests only)"};
  std::string node, from, action;
  uint32_t shard = 0;
  bool foreign = false;
  app.add_option("--node", node, "HOST:PORT of the node's cluster port")->required();
  app.add_option("--shard", shard, "the shard")->required();
  app.add_option("--from", from, "the node the chunk claims to come from")->required();
  app.add_flag("--foreign", foreign, "import: use an id of another shard");
  app.add_option("action", action, "import | abort")->required()->check(
    CLI::IsMember({"import", "abort"}));
  CLI11_PARSE(app, argc, argv);
  const char* secret = std::getenv("TT_ADMIN_SECRET");
  auto colon = node.rfind(':');
  if (secret == nullptr || colon == std::string::npos) {
    std::fprintf(stderr, "need TT_ADMIN_SECRET and --node HOST:PORT\n");
    return 2;
  }
  caf::actor_system_config cfg;
  tt::init_message_types(cfg);
  cfg.load<caf::io::middleman>();
  cfg.set("logger.file-verbosity", caf::atom("quiet"));
  cfg.set("logger.console-verbosity", caf::atom("quiet"));
  caf::actor_system sys{cfg};
  auto gw = sys.middleman().remote_actor<tt::cluster_gateway_actor>(
    node.substr(0, colon), static_cast<uint16_t>(std::stoi(node.substr(colon + 1))));
  if (!gw) {
    std::fprintf(stderr, "cannot connect to %s: %s\n", node.c_str(),
                 caf::to_string(gw.error()).c_str());
    return 1;
  }
  tt::shard_import msg;
  msg.secret = secret;
  msg.shard = shard;
  msg.from_node = from;
  msg.chunk = 0;
  std::string id;
  if (action == "abort") {
    msg.aborted = true;
  } else {
    id = id_in_shard(shard, foreign);
    // A timer of ticket `id`, named "probe", due in a day: the rows the
    // store's put_timers writes (cf codes: timers 4, timer_idx 5).
    std::string idx_key = std::string(1, static_cast<char>(tt::entity_kind::ticket)) + id
                          + std::string(1, '\0') + "probe";
    auto due = be64(static_cast<uint64_t>(4'102'444'800'000));  // 2100-01-01
    msg.triples = {std::string(1, '\4'), due + idx_key, std::string{},
                   std::string(1, '\5'), idx_key,       due};
  }
  caf::scoped_actor self{sys};
  int rc = 0;
  self->request(*gw, std::chrono::seconds(30), std::move(msg))
    .receive(
      [&](tt::shard_import_ack& ack) {
        std::printf("{\"ok\":true,\"written\":%llu,\"id\":\"%s\"}\n",
                    static_cast<unsigned long long>(ack.written), id.c_str());
      },
      [&](caf::error& err) {
        auto info = tt::describe(err);
        std::printf("{\"ok\":false,\"code\":\"%s\",\"message\":\"%s\",\"id\":\"%s\"}\n",
                    tt::to_string(info.code), json_escape(info.message).c_str(), id.c_str());
      });
  return rc;
}
