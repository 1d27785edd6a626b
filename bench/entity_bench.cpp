// tt_bench_entities: memory per active ticket entity, and the time until a
// node with a big journal can serve (lazy recovery).
//
// memory   (1) K tickets written straight into a store (event_store::append_batch),
//              the store closed and reopened, so nothing of them is in memory;
//          (2) a real actor system + journal + ticket region; warm-up;
//          (3) `get_ticket` for all K: each starts its entity, which recovers
//              from the store (reads only)              -> RSS delta / K;
//          (4) `list_ticket` for K new tickets through the region (each is a
//              synced journal append)                   -> RSS delta / K.
//          (3) isolates the entities (+ the region's maps); (4) also counts what
//          the writes leave in memory (RocksDB write buffers).
// recovery R tickets written straight into a store, closed; then timed: open
//          store + actor system + journal + region + the first successful get
//          of a random ticket; then a few more random cold gets.
// Commands are driven from a few actors with a bounded window in flight.
// Progress goes to stderr; the last line on stdout is one JSON object.

#include <CLI/CLI.hpp>
#include <jemalloc/jemalloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "actors/entity_env.hpp"
#include "actors/shard_region.hpp"
#include "actors/ticket_model.hpp"
#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/event_based_actor.hpp"
#include "caf/scoped_actor.hpp"
#include "caf/stateful_actor.hpp"
#include "messages/errc.hpp"
#include "messages/events.hpp"
#include "messages/interfaces.hpp"
#include "messages/system.hpp"
#include "persistence/event_store.hpp"
#include "persistence/journal_actor.hpp"
#include "persistence/node_keys.hpp"

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

struct options {
  size_t tickets = 100000;
  size_t recovery_tickets = 1000000;
  size_t window = 256;
  size_t drivers = 4;
  size_t block_cache_mb = 1;
  uint32_t snapshot_every = 64;
  size_t recovery_gets = 200;
  std::string dir;
  bool keep = false;
  bool skip_memory = false;
  bool size_classes = false;
  bool skip_recovery = false;
  double stop_timeout = 5;
};

/// The 1-minute load average: other work on this box skews every number here.
double loadavg1() {
  double l = -1;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &l) != 1)
      l = -1;
    std::fclose(f);
  }
  return l;
}

double since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

size_t rss_bytes() {
  std::ifstream in("/proc/self/statm");
  size_t size = 0, resident = 0;
  in >> size >> resident;
  return resident * static_cast<size_t>(::sysconf(_SC_PAGESIZE));
}

/// Bytes malloc has handed out and not got back (all arenas, incl. mmapped
/// blocks): unlike RSS, free chunks and fragmentation are not in it, so it
/// moves less between runs. A diagnostic next to the RSS figure.
/// jemalloc's statistics are a snapshot taken at the last "epoch" write.
void refresh_malloc_stats() {
  uint64_t epoch = 1;
  size_t len = sizeof(epoch);
  ::mallctl("epoch", &epoch, &len, &epoch, len);
}

/// Bytes the program has malloc'd and not freed (jemalloc's stats.allocated,
/// refreshed); 0 if the counters are unavailable.
size_t heap_in_use() {
  refresh_malloc_stats();
  size_t allocated = 0;
  size_t len = sizeof(allocated);
  if (::mallctl("stats.allocated", &allocated, &len, nullptr, 0) != 0)
    return 0;
  return allocated;
}

/// Live objects per small jemalloc size class: (class size, count).
std::vector<std::pair<size_t, int64_t>> live_by_size_class() {
  std::vector<std::pair<size_t, int64_t>> out;
  refresh_malloc_stats();
  unsigned nbins = 0;
  size_t len = sizeof(nbins);
  if (::mallctl("arenas.nbins", &nbins, &len, nullptr, 0) != 0)
    return out;
  for (unsigned i = 0; i < nbins; ++i) {
    size_t size = 0, curregs = 0;
    len = sizeof(size);
    auto name = "arenas.bin." + std::to_string(i) + ".size";
    ::mallctl(name.c_str(), &size, &len, nullptr, 0);
    len = sizeof(curregs);
    name = "stats.arenas." + std::to_string(MALLCTL_ARENAS_ALL) + ".bins." + std::to_string(i)
           + ".curregs";
    if (::mallctl(name.c_str(), &curregs, &len, nullptr, 0) != 0)
      return {};
    out.emplace_back(size, static_cast<int64_t>(curregs));
  }
  return out;
}

double mib(size_t b) {
  return b / 1048576.0;
}

// -- deterministic tickets -----------------------------------------------------------

/// Everything needed to list ticket `i` of a set called `tag` (or to write its
/// `ticket_listed` event directly).
class ticket_factory {
public:
  explicit ticket_factory(std::shared_ptr<const tt::persistence::node_keys> keys)
    : keys_(std::move(keys)) {
    for (size_t s = 0; s < sellers; ++s)
      seller_ids_.push_back(keys_->derived_id("bench-seller", std::to_string(s)));
  }

  static constexpr size_t sellers = 5000;

  const std::string& seller(size_t i) const { return seller_ids_[i % sellers]; }

  static tt::ticket_fields fields(size_t i) {
    tt::ticket_fields f;
    auto ev = i % 2000;
    f.event_id = "evt-" + std::to_string(ev);
    f.event_name = "Bench Night " + std::to_string(ev);
    f.venue = "Venue " + std::to_string(i % 100);
    f.category = "concert";
    f.event_starts_at_ms = 1'800'000'000'000 + static_cast<int64_t>(ev) * 3'600'000;
    f.section = "S" + std::to_string(i % 30);
    f.row = "R" + std::to_string(i % 25);
    f.seats = {std::to_string(i % 40 + 1)};
    f.face_value_minor = 5000 + static_cast<int64_t>(i % 100) * 100;
    f.price_minor = f.face_value_minor * 6 / 5;
    f.currency = "EUR";
    f.platform = static_cast<uint8_t>(i % 5);
    return f;
  }

  static std::string barcode(const std::string& tag, size_t i) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%s-%012zu-%016llx", tag.c_str(), i,
                  static_cast<unsigned long long>(i) * 0x9E3779B97F4A7C15ull);
    return buf;
  }

  tt::list_ticket list_command(const std::string& tag, size_t i) const {
    tt::list_ticket cmd;
    cmd.fields = fields(i);
    cmd.barcode = barcode(tag, i);
    cmd.meta.user_id = seller(i);
    auto ids = tt::actors::derive_listing_ids(*keys_, cmd.meta.user_id, cmd.fields, cmd.barcode);
    cmd.ticket_id = std::move(ids.ticket_id);
    cmd.dedup_hash = std::move(ids.dedup_hash);
    cmd.meta.correlation_id = "bench";
    return cmd;
  }

  std::string ticket_id(const std::string& tag, size_t i) const {
    return tt::actors::derive_listing_ids(*keys_, seller(i), fields(i), barcode(tag, i)).ticket_id;
  }

  /// The encoded `ticket_listed` event (seq 1) and owner-index writes the
  /// entity would persist for listing ticket `i`.
  struct stored_listing {
    std::string id;
    std::vector<std::string> events;
    std::vector<std::string> index_writes;
  };

  stored_listing stored(const std::string& tag, size_t i, int64_t now_ms) const {
    auto code = barcode(tag, i);
    tt::ticket_listed listed;
    listed.fields = fields(i);
    listed.seller = seller(i);
    auto ids = tt::actors::derive_listing_ids(*keys_, listed.seller, listed.fields, code);
    listed.barcode_hash = std::move(ids.barcode_hash);
    listed.barcode_sealed = keys_->seal(code);
    listed.dedup_hash = std::move(ids.dedup_hash);
    tt::event_envelope ev;
    ev.kind = tt::entity_kind::ticket;
    ev.entity_id = ids.ticket_id;
    ev.seq = 1;
    ev.timestamp_ms = now_ms;
    ev.event_id = tt::persistence::random_id();
    ev.correlation_id = "bench";
    ev.user_id = listed.seller;
    ev.payload = std::move(listed);
    tt::actors::ticket_model before, after;
    before.id = after.id = ids.ticket_id;
    after.apply(ev);
    stored_listing out;
    out.id = std::move(ids.ticket_id);
    out.events.push_back(tt::encode_event(ev));
    out.index_writes = after.index_writes(before, after);
    return out;
  }

private:
  std::shared_ptr<const tt::persistence::node_keys> keys_;
  std::vector<std::string> seller_ids_;
};

int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::unique_ptr<tt::persistence::event_store> open_store(const fs::path& dir, size_t cache_mb,
                                                        bool sync = true) {
  tt::persistence::store_options so;
  so.dir = dir.string();
  so.block_cache_bytes = cache_mb << 20;
  so.sync = sync;
  std::string err;
  auto store = tt::persistence::event_store::open(so, &err);
  if (!store) {
    std::fprintf(stderr, "cannot open store %s: %s\n", so.dir.c_str(), err.c_str());
    std::exit(1);
  }
  return store;
}

struct prewrite_result {
  double seconds = 0;
  double append_seconds = 0;  // inside append_batch
  double write_seconds = 0;   // of that, inside RocksDB's Write
  size_t event_bytes = 0;
};

/// Writes tickets [0, n) of set `tag` straight into the store at `dir` in big
/// batches, then closes it (close() flushes the memtables and syncs). This is
/// test-data setup, not a measured path: batches are not fsync'd one by one,
/// and a helper thread encodes the next chunk while this one writes.
prewrite_result prewrite(const fs::path& dir, const ticket_factory& factory, const std::string& tag,
                         size_t n, size_t cache_mb) {
  using chunk_type = std::vector<ticket_factory::stored_listing>;
  prewrite_result res;
  auto t0 = clock_type::now();
  auto store = open_store(dir, cache_mb, /*sync=*/false);
  constexpr size_t batch = 10000;
  auto now = wall_ms();
  auto encode = [&](size_t from) {
    chunk_type chunk;
    size_t to = std::min(n, from + batch);
    chunk.reserve(to - from);
    for (size_t i = from; i < to; ++i)
      chunk.push_back(factory.stored(tag, i, now));
    return chunk;
  };
  std::vector<tt::persistence::append_request> reqs;
  std::vector<tt::persistence::append_result> results;
  size_t last_report = 0;
  auto next = std::async(std::launch::async, encode, size_t{0});
  for (size_t from = 0; from < n; from += batch) {
    auto chunk = next.get();
    if (from + batch < n)
      next = std::async(std::launch::async, encode, from + batch);
    reqs.clear();
    for (auto& s : chunk) {
      tt::persistence::append_request r;
      r.kind = tt::entity_kind::ticket;
      r.entity_id = s.id;
      r.expected_seq = 0;
      r.events = s.events;
      r.index_writes = s.index_writes;
      reqs.push_back(r);
      res.event_bytes += s.events[0].size();
    }
    auto w0 = clock_type::now();
    tt::persistence::batch_info info;
    store->append_batch(reqs, results, &info);
    res.append_seconds += since(w0);
    res.write_seconds += info.write_seconds;
    for (auto& r : results) {
      if (r.code != tt::errc::ok) {
        std::fprintf(stderr, "prewrite: append failed: %s\n", r.message.c_str());
        std::exit(1);
      }
    }
    size_t done = std::min(n, from + batch);
    if (done - last_report >= 100000 || done == n) {
      last_report = done;
      std::fprintf(stderr,
                   "  written %zu / %zu tickets (%.1f s; %.1f s in append_batch, %.1f s of it in "
                   "RocksDB Write)\n",
                   done, n, since(t0), res.append_seconds, res.write_seconds);
    }
  }
  auto c0 = clock_type::now();
  store->close();
  store.reset();
  std::fprintf(stderr, "  closed (memtables flushed) in %.1f s\n", since(c0));
  res.seconds = since(t0);
  return res;
}

// -- driving commands through the region with a bounded window ----------------------

struct drive_context {
  tt::ticket_region_actor region;
  std::function<caf::message(size_t)> make;  // command i as a message
  size_t total = 0;
  size_t window_per_driver = 64;
  std::atomic<size_t> next{0};
  std::atomic<size_t> done{0};
  std::atomic<size_t> errors{0};
  std::atomic<size_t> live{0};
};

struct driver_state {
  std::shared_ptr<drive_context> ctx;
  static inline const char* name = "bench_driver";
};

using driver_actor = caf::stateful_actor<driver_state>;

void issue(driver_actor* self) {
  auto& ctx = *self->state.ctx;
  auto i = ctx.next.fetch_add(1);
  if (i >= ctx.total)
    return;
  auto on_done = [self] {
    auto& c = *self->state.ctx;
    c.done.fetch_add(1);
    issue(self);
  };
  self->request(caf::actor_cast<caf::actor>(ctx.region), std::chrono::seconds(60), ctx.make(i))
    .then([on_done](const tt::ticket_view&) { on_done(); },
          [self, on_done](caf::error& err) {
            auto n = self->state.ctx->errors.fetch_add(1);
            if (n < 5)
              std::fprintf(stderr, "  command failed: %s\n", self->system().render(err).c_str());
            on_done();
          });
}

caf::behavior driver(driver_actor* self, std::shared_ptr<drive_context> ctx) {
  self->state.ctx = ctx;
  ctx->live.fetch_add(1);
  self->attach_functor([ctx] { ctx->live.fetch_sub(1); });
  for (size_t k = 0; k < ctx->window_per_driver; ++k)
    issue(self);
  return {[](int) {}};
}

/// Sends commands [0, total) through `region`, `window` in flight over
/// `drivers` actors; returns seconds taken.
double drive(caf::actor_system& sys, const tt::ticket_region_actor& region, size_t total,
             size_t window, size_t drivers, std::function<caf::message(size_t)> make,
             const char* what, size_t* errors) {
  auto ctx = std::make_shared<drive_context>();
  ctx->region = region;
  ctx->make = std::move(make);
  ctx->total = total;
  ctx->window_per_driver = std::max<size_t>(1, window / drivers);
  std::vector<caf::actor> ds;
  auto t0 = clock_type::now();
  for (size_t d = 0; d < drivers; ++d)
    ds.push_back(sys.spawn(driver, ctx));
  size_t last = 0;
  auto last_print = clock_type::now();
  while (ctx->done.load() < total) {
    std::this_thread::sleep_for(5ms);
    if (since(last_print) >= 2.0) {
      auto d = ctx->done.load();
      std::fprintf(stderr, "  %s: %zu / %zu (%.0f/s)\n", what, d, total,
                   (d - last) / since(last_print));
      last = d;
      last_print = clock_type::now();
    }
  }
  double secs = since(t0);
  for (auto& d : ds)
    caf::anon_send_exit(d, caf::exit_reason::user_shutdown);
  while (ctx->live.load() > 0)
    std::this_thread::sleep_for(1ms);
  if (errors)
    *errors = ctx->errors.load();
  return secs;
}

tt::region_stats region_stats_of(caf::actor_system& sys, const tt::ticket_region_actor& r) {
  caf::scoped_actor self{sys};
  tt::region_stats out;
  self->request(r, std::chrono::seconds(60), tt::atoms::stats_atom_v)
    .receive([&](tt::region_stats& s) { out = s; },
             [&](caf::error& err) {
               std::fprintf(stderr, "region stats failed: %s\n", sys.render(err).c_str());
             });
  return out;
}

/// A node's runtime: actor system (2 scheduler threads), journal, ticket region.
struct node_runtime {
  std::unique_ptr<caf::actor_system_config> cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::shared_ptr<tt::persistence::event_store> store;
  tt::journal_actor journal;
  tt::ticket_region_actor region;

  void start(std::shared_ptr<tt::persistence::event_store> s,
             std::shared_ptr<const tt::persistence::node_keys> keys, uint32_t snapshot_every) {
    store = std::move(s);
    cfg = std::make_unique<caf::actor_system_config>();
    tt::init_message_types(*cfg);
    cfg->set("scheduler.max-threads", size_t{2});
    cfg->set("logger.file-verbosity", caf::atom("quiet"));
    cfg->set("logger.console-verbosity", caf::atom("quiet"));
    sys = std::make_unique<caf::actor_system>(*cfg);
    journal = tt::persistence::spawn_journal(*sys, store, tt::persistence::journal_config{},
                                             nullptr);
    tt::actors::entity_env env;
    env.store = store;
    env.journal = journal;
    env.keys = std::move(keys);
    env.snapshot_every = snapshot_every;
    tt::actors::region_config rc;
    rc.idle_timeout = std::chrono::hours(1);  // nothing passivates during the bench
    region = tt::actors::spawn_ticket_region(*sys, env, rc, nullptr);
  }

  /// Stops region, entities and journal, then closes the store; returns seconds.
  double stop() {
    if (!sys)
      return 0;
    auto t0 = clock_type::now();
    caf::anon_send_exit(region, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(journal, caf::exit_reason::user_shutdown);
    region = nullptr;
    journal = nullptr;
    sys->await_all_actors_done();
    sys.reset();
    cfg.reset();
    store->close();
    store.reset();
    return since(t0);
  }
};

struct memory_result {
  size_t rss_start = 0, rss_base = 0, rss_activated = 0, rss_listed = 0;
  size_t heap_base = 0, heap_activated = 0;
  double activate_seconds = 0, list_seconds = 0, prewrite_seconds = 0;
  size_t errors = 0;
  size_t activated = 0;  // entities the get phase added (region stats)
  size_t listed = 0;     // entities the list phase added (region stats)
  double avg_event_bytes = 0;
  std::vector<std::pair<size_t, int64_t>> bins_base, bins_activated;
};

/// Leaves `node` running with every entity active: stopping it is timed by
/// the caller (it can take long, see README).
memory_result run_memory(const options& opt, std::shared_ptr<const tt::persistence::node_keys> keys,
                         const ticket_factory& factory, node_runtime& node) {
  memory_result res;
  res.rss_start = rss_bytes();
  auto dir = fs::path(opt.dir) / "memory";
  fs::remove_all(dir);
  std::fprintf(stderr, "[memory] writing %zu tickets straight into the store ...\n", opt.tickets);
  auto pw = prewrite(dir, factory, "stored", opt.tickets, opt.block_cache_mb);
  res.prewrite_seconds = pw.seconds;
  res.avg_event_bytes = opt.tickets ? double(pw.event_bytes) / opt.tickets : 0;
  // Hand what the writer freed back to the OS, so it cannot hide later growth.
  auto purge = "arena." + std::to_string(MALLCTL_ARENAS_ALL) + ".purge";
  ::mallctl(purge.c_str(), nullptr, nullptr, nullptr, 0);

  node.start(open_store(dir, opt.block_cache_mb), keys, opt.snapshot_every);
  auto get_msg = [&](const std::string& tag) {
    return [&factory, tag](size_t i) {
      return caf::make_message(tt::get_ticket{factory.ticket_id(tag, i)});
    };
  };
  // Warm-up (not counted): activate and list a window's worth, so thread caches,
  // CAF's and RocksDB's lazily built structures exist before the baseline.
  size_t warm = std::min<size_t>(opt.window * 4, opt.tickets / 10 + 1);
  size_t errs = 0;
  drive(*node.sys, node.region, warm, opt.window, opt.drivers, get_msg("stored"), "warm-up get",
        &errs);
  res.errors += errs;
  drive(*node.sys, node.region, warm, opt.window, opt.drivers,
        [&factory](size_t i) { return caf::make_message(factory.list_command("warm", i)); },
        "warm-up list", &errs);
  res.errors += errs;
  std::this_thread::sleep_for(200ms);
  res.rss_base = rss_bytes();
  res.heap_base = heap_in_use();
  res.bins_base = live_by_size_class();
  auto base_active = region_stats_of(*node.sys, node.region).active_entities;

  std::fprintf(stderr, "[memory] activating %zu stored tickets with get_ticket (recovery reads) ...\n",
               opt.tickets - warm);
  // Tickets [warm, K) of the stored set: K - warm entities.
  res.activate_seconds = drive(
    *node.sys, node.region, opt.tickets - warm, opt.window, opt.drivers,
    [&factory, warm](size_t i) {
      return caf::make_message(tt::get_ticket{factory.ticket_id("stored", warm + i)});
    },
    "get", &errs);
  res.errors += errs;
  std::this_thread::sleep_for(200ms);
  res.rss_activated = rss_bytes();
  res.heap_activated = heap_in_use();
  res.bins_activated = live_by_size_class();
  auto after_activate = region_stats_of(*node.sys, node.region).active_entities;

  std::fprintf(stderr, "[memory] listing %zu new tickets through the region ...\n", opt.tickets);
  res.list_seconds = drive(
    *node.sys, node.region, opt.tickets, opt.window, opt.drivers,
    [&factory](size_t i) { return caf::make_message(factory.list_command("new", i)); }, "list",
    &errs);
  res.errors += errs;
  std::this_thread::sleep_for(200ms);
  res.rss_listed = rss_bytes();
  auto after_list = region_stats_of(*node.sys, node.region).active_entities;
  // Per-entity numbers divide by the entities each phase actually added.
  res.activated = after_activate - base_active;
  res.listed = after_list - after_activate;
  if (res.activated != opt.tickets - warm || res.listed != opt.tickets)
    std::fprintf(stderr, "  note: %zu entities activated, %zu listed (expected %zu, %zu)\n",
                 res.activated, res.listed, opt.tickets - warm, opt.tickets);
  return res;
}

struct recovery_result {
  size_t tickets = 0;
  double prewrite_seconds = 0;
  double open_store_s = 0, start_system_s = 0, first_get_s = 0, total_s = 0;
  std::vector<double> cold_gets_ms;
  size_t errors = 0;
  uint64_t next_offset = 0;
  uintmax_t dir_bytes = 0;
};

uintmax_t dir_size(const fs::path& p) {
  uintmax_t total = 0;
  for (auto& e : fs::recursive_directory_iterator(p))
    if (e.is_regular_file())
      total += e.file_size();
  return total;
}

recovery_result run_recovery(const options& opt,
                             std::shared_ptr<const tt::persistence::node_keys> keys,
                             const ticket_factory& factory) {
  recovery_result res;
  res.tickets = opt.recovery_tickets;
  auto dir = fs::path(opt.dir) / "recovery";
  fs::remove_all(dir);
  std::fprintf(stderr, "[recovery] writing %zu tickets straight into the store ...\n",
               opt.recovery_tickets);
  res.prewrite_seconds = prewrite(dir, factory, "rec", opt.recovery_tickets, 64).seconds;
  res.dir_bytes = dir_size(dir);
  std::fprintf(stderr, "[recovery] store on disk: %.1f MiB; now timing a cold start ...\n",
               mib(res.dir_bytes));

  std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<size_t> pick(0, opt.recovery_tickets - 1);
  auto first = pick(rng);
  auto first_id = factory.ticket_id("rec", first);
  auto expected_seller = factory.seller(first);

  auto t0 = clock_type::now();
  std::shared_ptr<tt::persistence::event_store> store = open_store(dir, 64);  // default cache
  res.open_store_s = since(t0);
  auto t1 = clock_type::now();
  node_runtime node;
  node.start(store, keys, opt.snapshot_every);
  res.start_system_s = since(t1);
  auto t2 = clock_type::now();
  bool ok = false;
  {
    caf::scoped_actor self{*node.sys};
    self->request(node.region, std::chrono::seconds(60), tt::get_ticket{first_id})
      .receive([&](tt::ticket_view& v) { ok = v.id == first_id && v.seller == expected_seller; },
               [&](caf::error& err) {
                 std::fprintf(stderr, "  first get failed: %s\n", node.sys->render(err).c_str());
               });
  }
  res.first_get_s = since(t2);
  res.total_s = since(t0);
  if (!ok)
    ++res.errors;
  res.next_offset = store->next_offset();
  // More random cold gets, one at a time (each starts an entity that recovers).
  {
    caf::scoped_actor self{*node.sys};
    for (size_t k = 0; k < opt.recovery_gets; ++k) {
      auto i = pick(rng);
      auto id = factory.ticket_id("rec", i);
      auto g0 = clock_type::now();
      self->request(node.region, std::chrono::seconds(60), tt::get_ticket{id})
        .receive([&](tt::ticket_view& v) {
                   if (v.id != id)
                     ++res.errors;
                 },
                 [&](caf::error&) { ++res.errors; });
      res.cold_gets_ms.push_back(1e3 * since(g0));
    }
  }
  node.stop();
  store.reset();
  if (!opt.keep)
    fs::remove_all(dir);
  return res;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  auto idx = static_cast<size_t>(p * (v.size() - 1) + 0.5);
  return v[std::min(idx, v.size() - 1)];
}

auto add = [](std::string& out, const char* fmt, auto... args) {
  char buf[1024];
  std::snprintf(buf, sizeof(buf), fmt, args...);
  out += buf;
};

struct child_output {
  size_t errors = 0;
  bool ok = false;
  std::string report;
  std::string json;
};

/// Runs `fn` in a forked child and returns what it produced (errors = 1, ok =
/// false if the child failed). Call only while this process is single-threaded.
template <class F>
child_output run_in_child(F fn) {
  child_output out;
  out.errors = 1;
  int fds[2];
  if (::pipe(fds) != 0) {
    std::perror("pipe");
    return out;
  }
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) {
    std::perror("fork");
    return out;
  }
  if (pid == 0) {
    ::close(fds[0]);
    auto r = fn();
    std::string msg = std::to_string(r.errors) + " " + (r.ok ? "1" : "0") + "\n" + r.report
                      + '\x1e' + r.json;
    for (size_t off = 0; off < msg.size();) {
      auto n = ::write(fds[1], msg.data() + off, msg.size() - off);
      if (n <= 0)
        break;
      off += static_cast<size_t>(n);
    }
    ::close(fds[1]);
    std::fflush(nullptr);
    std::_Exit(0);  // skip static destructors; everything is stopped already
  }
  ::close(fds[1]);
  std::string msg;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof(buf))) > 0;)
    msg.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  auto nl = msg.find('\n'), sep = msg.find('\x1e');
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || nl == std::string::npos
      || sep == std::string::npos) {
    std::fprintf(stderr, "a measure in a child process failed (status %d)\n", status);
    return out;
  }
  int ok = 0;
  std::sscanf(msg.c_str(), "%zu %d", &out.errors, &ok);
  out.ok = ok == 1;
  out.report = msg.substr(nl + 1, sep - nl - 1);
  out.json = msg.substr(sep + 1);
  return out;
}

struct floor_result {
  size_t actors = 0;
  double delta = 0;
  double per_actor = 0;
};

struct spawner_state {
  std::vector<caf::actor> kids;
  static inline const char* name = "bench_spawner";
};

/// RSS per bare actor: spawned lazily by one actor (as the region does), each
/// started by one message, then kept alive; nothing of Ticket Trader involved.
floor_result bare_actor_floor(size_t n) {
  floor_result res;
  res.actors = n;
  // Never destroyed: the actors stay alive until the child process _Exits.
  auto* cfg = new caf::actor_system_config;
  cfg->set("scheduler.max-threads", size_t{2});
  cfg->set("logger.file-verbosity", caf::atom("quiet"));
  cfg->set("logger.console-verbosity", caf::atom("quiet"));
  auto& sys = *new caf::actor_system{*cfg};
  auto spawner = sys.spawn([](caf::stateful_actor<spawner_state>* self) -> caf::behavior {
    return {[self](size_t count) {
      for (size_t i = 0; i < count; ++i) {
        auto kid = self->spawn<caf::lazy_init>(
          [](caf::event_based_actor*) -> caf::behavior { return {[](size_t) {}}; });
        self->send(kid, i);
        self->state.kids.push_back(std::move(kid));
      }
      return count;
    }};
  });
  caf::scoped_actor self{sys};
  auto round = [&](size_t count) {
    self->request(spawner, caf::infinite, count).receive([](size_t) {}, [](caf::error&) {});
    std::this_thread::sleep_for(200ms);
  };
  round(std::min<size_t>(1024, n));  // warm-up
  auto before = rss_bytes();
  round(n);
  res.delta = double(rss_bytes()) - double(before);
  res.per_actor = res.delta / n;
  return res;
}

} // namespace

int main(int argc, char** argv) {
  options opt;
  opt.dir = (fs::temp_directory_path() / ("tt-bench-entities-" + std::to_string(::getpid())))
              .string();
  CLI::App app{"tt_bench_entities: memory per active ticket entity, and time-to-serve after a "
               "restart with a big journal (lazy recovery).\n"
               "Progress on stderr; a table and a final JSON line on stdout."};
  app.add_option("--tickets", opt.tickets,
                 "K: tickets activated (recovered) and K tickets listed for the memory measure")
    ->capture_default_str()
    ->check(CLI::Range(size_t{100}, size_t{100000000}));
  app.add_option("--recovery-tickets", opt.recovery_tickets,
                 "tickets in the journal for the recovery measure")
    ->capture_default_str()
    ->check(CLI::Range(size_t{1}, size_t{1000000000}));
  app.add_option("--window", opt.window, "commands in flight (spread over --drivers actors)")
    ->capture_default_str();
  app.add_option("--drivers", opt.drivers, "driver actors")->capture_default_str();
  app.add_option("--block-cache-mb", opt.block_cache_mb,
                 "RocksDB block cache for the memory measure (bounded, not per entity)")
    ->capture_default_str();
  app.add_option("--snapshot-every", opt.snapshot_every, "entity_env::snapshot_every")
    ->capture_default_str();
  app.add_option("--recovery-gets", opt.recovery_gets,
                 "random cold gets timed after the first one")
    ->capture_default_str();
  app.add_option("--dir", opt.dir, "scratch directory")->capture_default_str();
  app.add_flag("--keep", opt.keep, "keep the RocksDB directories");
  app.add_flag("--skip-memory", opt.skip_memory, "skip the memory measure");
  app.add_flag("--size-classes", opt.size_classes,
               "also print which jemalloc size classes the activated entities added objects to");
  app.add_flag("--skip-recovery", opt.skip_recovery, "skip the recovery measure");
  app.add_option("--stop-timeout", opt.stop_timeout,
                 "seconds to wait for the node with every entity active to stop before exiting "
                 "without it")
    ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  opt.window = std::max<size_t>(opt.window, 1);
  opt.drivers = std::clamp<size_t>(opt.drivers, 1, opt.window);

  fs::create_directories(opt.dir);
  auto keys = tt::persistence::node_keys::from_secret("bench");
  ticket_factory factory{keys};
  std::fprintf(stderr, "tt_bench_entities: dir %s, K=%zu, recovery R=%zu, window %zu over %zu actors\n",
               opt.dir.c_str(), opt.tickets, opt.recovery_tickets, opt.window, opt.drivers);

  std::string report;  // the human-readable table, printed at the end
  double load_start = loadavg1();
  std::string json = "{\"bench\":\"tt_bench_entities\"";
  bool pass = true;
  size_t errors = 0;
  std::string floor_report;

  // The recovery measure and the bare-actor floor run in forked children
  // (forked while this process is still single-threaded and has touched
  // neither RocksDB nor CAF), so memory they free cannot be reused unseen by
  // the memory measure here, and their RSS starts clean.
  if (!opt.skip_recovery) {
    auto msg = run_in_child([&] {
      auto r = run_recovery(opt, keys, factory);
      std::string rep, js;
      double p50 = percentile(r.cold_gets_ms, 0.5), p99 = percentile(r.cold_gets_ms, 0.99);
      add(rep, "\nlazy recovery with %zu tickets in the journal (%.1f MiB on disk, written in %.1f s)\n",
          r.tickets, mib(r.dir_bytes), r.prewrite_seconds);
      add(rep,
          "  open store %.1f ms + actor system, journal, region %.1f ms + first get %.2f ms"
          " = %.1f ms until the first ticket is served\n",
          1e3 * r.open_store_s, 1e3 * r.start_system_s, 1e3 * r.first_get_s, 1e3 * r.total_s);
      add(rep, "  %zu further random cold gets (one at a time): p50 %.2f ms, p99 %.2f ms\n",
          r.cold_gets_ms.size(), p50, p99);
      add(rep, "  target < 1 s: %s\n", r.total_s < 1.0 ? "met" : "NOT met");
      add(js,
          ",\"recovery\":{\"tickets\":%zu,\"store_bytes\":%ju,\"prewrite_s\":%.2f,"
          "\"open_store_ms\":%.2f,\"start_system_ms\":%.2f,\"first_get_ms\":%.3f,"
          "\"time_to_first_get_ms\":%.2f,\"cold_get_p50_ms\":%.3f,\"cold_get_p99_ms\":%.3f,"
          "\"cold_gets\":%zu,\"errors\":%zu,\"target_ms\":1000}",
          r.tickets, r.dir_bytes, r.prewrite_seconds, 1e3 * r.open_store_s,
          1e3 * r.start_system_s, 1e3 * r.first_get_s, 1e3 * r.total_s, p50, p99,
          r.cold_gets_ms.size(), r.errors);
      return child_output{r.errors, r.total_s < 1.0, rep, js};
    });
    errors += msg.errors;
    pass = pass && msg.ok;
    report += msg.report;
    json += msg.json;
  }
  if (!opt.skip_memory) {
    auto msg = run_in_child([&] {
      auto f = bare_actor_floor(opt.tickets);
      std::string rep, js;
      add(rep, "\nfor comparison, %zu bare CAF 0.17 actors (lazy_init, one-handler behavior, no "
               "state) spawned by one actor: +%.1f MiB = %.0f bytes/actor\n",
          f.actors, f.delta / 1048576.0, f.per_actor);
      add(js, ",\"bare_actor\":{\"actors\":%zu,\"bytes_per_actor\":%.0f}", f.actors, f.per_actor);
      return child_output{0, true, rep, js};
    });
    errors += msg.errors;
    floor_report = msg.report;
    json += msg.json;
  }

  node_runtime node;
  size_t active = 0;
  if (!opt.skip_memory) {
    auto m = run_memory(opt, keys, factory, node);
    size_t activated = m.activated, listed = m.listed;
    active = activated + listed;
    double d_act = double(m.rss_activated) - double(m.rss_base);
    double d_list = double(m.rss_listed) - double(m.rss_activated);
    double per_act = activated ? d_act / activated : 0;
    double per_list = listed ? d_list / listed : 0;
    double heap_act = activated ? (double(m.heap_activated) - double(m.heap_base)) / activated : 0;
    errors += m.errors;
    add(report, "\nmemory per active ticket entity (RSS from /proc/self/statm)\n");
    add(report, "  RSS at start %.1f MiB, baseline after warm-up %.1f MiB\n", mib(m.rss_start),
        mib(m.rss_base));
    add(report,
        "  activated %zu stored tickets (get_ticket -> recovery, reads only): +%.1f MiB"
        " = %.0f bytes/entity (%.0f gets/s)\n",
        activated, d_act / 1048576.0, per_act,
        m.activate_seconds > 0 ? activated / m.activate_seconds : 0.0);
    if (heap_act > 0)
      add(report,
          "    (of which malloc'd and in use (jemalloc stats.allocated): %.0f bytes/entity;\n"
          "     the rest is the allocator's free space, page tables and thread caches)\n",
          heap_act);
    if (opt.size_classes && activated > 0
        && m.bins_base.size() == m.bins_activated.size()) {
      add(report, "    live objects added per activated entity, by jemalloc size class:\n");
      for (size_t i = 0; i < m.bins_base.size(); ++i) {
        double per = double(m.bins_activated[i].second - m.bins_base[i].second) / activated;
        if (per >= 0.05 || per <= -0.05)
          add(report, "      %5zu B x %5.2f = %6.0f B\n", m.bins_base[i].first, per,
              per * m.bins_base[i].first);
      }
    }
    add(report,
        "  listed %zu new tickets (list_ticket -> synced append):           +%.1f MiB"
        " = %.0f bytes/entity (%.0f listings/s)\n",
        listed, d_list / 1048576.0, per_list,
        m.list_seconds > 0 ? listed / m.list_seconds : 0.0);
    add(report,
        "    (the listed figure also holds what the writes leave in RocksDB's write buffers:"
        " ~%.0f-byte event + keys + log + index entry per ticket)\n",
        m.avg_event_bytes);
    add(report, "  target < 2048 bytes/entity: %s (activated), %s (listed)\n",
        per_act < 2048 ? "met" : "NOT met", per_list < 2048 ? "met" : "NOT met");
    report += floor_report;
    pass = pass && per_act < 2048;
    add(json,
        ",\"memory\":{\"tickets\":%zu,\"activated\":%zu,\"listed\":%zu,\"rss_start\":%zu,"
        "\"rss_base\":%zu,\"rss_after_activate\":%zu,\"rss_after_list\":%zu,"
        "\"bytes_per_entity_activated\":%.0f,\"heap_bytes_per_entity_activated\":%.0f,"
        "\"bytes_per_entity_listed\":%.0f,"
        "\"gets_per_s\":%.0f,\"listings_per_s\":%.0f,\"avg_event_bytes\":%.0f,"
        "\"block_cache_mb\":%zu,\"window\":%zu,\"errors\":%zu,\"target_bytes\":2048}",
        opt.tickets, activated, listed, m.rss_start, m.rss_base, m.rss_activated, m.rss_listed,
        per_act, heap_act, per_list, m.activate_seconds > 0 ? activated / m.activate_seconds : 0.0,
        m.list_seconds > 0 ? listed / m.list_seconds : 0.0, m.avg_event_bytes,
        opt.block_cache_mb, opt.window, m.errors);
  }

  // Prints everything once: from main after a timely stop, or from the
  // watchdog when stopping the node takes longer than --stop-timeout.
  std::atomic<bool> finished{false};
  auto finish = [&](double stop_s, bool timed_out) {
    if (finished.exchange(true))
      return;
    std::string out = report;
    std::string j = json;
    if (!opt.skip_memory) {
      if (timed_out)
        add(out, "\nstopping the node with %zu active entities: still running after %.0f s;"
                 " exiting without waiting\n", active, opt.stop_timeout);
      else
        add(out, "\nstopping the node with %zu active entities took %.1f s\n", active, stop_s);
      add(j, ",\"stop\":{\"active_entities\":%zu,\"seconds\":%.2f,\"timed_out\":%s}", active,
          timed_out ? opt.stop_timeout : stop_s, timed_out ? "true" : "false");
    }
    double load_end = loadavg1();
    add(out, "\nload average (1 min) %.2f at start, %.2f at end (this box has 2 cores)\n",
        load_start, load_end);
    add(j, ",\"loadavg_start\":%.2f,\"loadavg_end\":%.2f", load_start, load_end);
    add(j, ",\"errors\":%zu,\"targets_met\":%s}", errors, pass ? "true" : "false");
    std::printf("%s%s\n", out.c_str(), j.c_str());
    std::fflush(stdout);
    if (!opt.keep) {
      std::error_code ec;
      fs::remove_all(opt.dir, ec);
    }
  };
  int rc = errors == 0 ? 0 : 2;
  std::thread watchdog;
  std::mutex m;
  std::condition_variable cv;
  bool stopped = false;
  if (!opt.skip_memory) {
    watchdog = std::thread([&] {
      std::unique_lock<std::mutex> guard{m};
      if (!cv.wait_for(guard, std::chrono::duration<double>(opt.stop_timeout),
                       [&] { return stopped; })) {
        finish(0, true);
        std::_Exit(rc);  // the node is still stopping; nothing left to measure
      }
    });
    std::fprintf(stderr, "[memory] stopping the node (%zu active entities) ...\n", active);
  }
  double stop_s = node.stop();
  if (watchdog.joinable()) {
    {
      std::lock_guard<std::mutex> guard{m};
      stopped = true;
    }
    cv.notify_all();
    watchdog.join();
  }
  finish(stop_s, false);
  return rc;
}
