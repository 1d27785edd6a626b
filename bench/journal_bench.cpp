// tt_bench_journal: durable events/s of the journal (group commit) against raw
// RocksDB synced WriteBatches measured in the same run.
//
// For each size N (default 10, 100, 1000), three cases, each on its own fresh
// RocksDB directory:
//   raw      RocksDB opened directly, WriteBatch of N values, sync=true.
//   store    event_store::append_batch called directly with N one-event appends
//            (no actors): the store's key layout (event + global log entry per
//            event), optimistic-concurrency check and the same fsync.
//   journal  spawn_journal in a real actor system (2 scheduler threads) driven
//            by N entity-like actors, each with exactly one append in flight
//            (one event, expected_seq = its last seq; the next append only after
//            the ack), as real entities behave.
// The disk's fsync latency drifts (other tenants), so the three cases of one N
// are interleaved in short slices (--rounds) and summed; the ratios compare
// numbers taken under the same conditions.
// Progress goes to stderr; a table and a final JSON line go to stdout.

#include <CLI/CLI.hpp>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/event_based_actor.hpp"
#include "caf/scoped_actor.hpp"
#include "caf/stateful_actor.hpp"
#include "messages/errc.hpp"
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
  double seconds = 3;
  int rounds = 6;
  double warmup = 0.5;
  std::vector<size_t> sizes{10, 100, 1000};
  size_t value_bytes = 200;
  std::string dir;
  bool keep = false;
  size_t max_batch = 4096;
  int64_t max_delay_us = 0;
  std::vector<std::string> cases{"raw", "store", "journal"};
  bool no_sync = false;  // diagnostic: CPU cost without fsync (not durable)
  int64_t append_timeout_ms = 0;  // as entity_env::append_timeout (0: none, the default)
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

void put_be64(std::string& out, uint64_t x) {
  for (int i = 7; i >= 0; --i)
    out.push_back(static_cast<char>((x >> (i * 8)) & 0xff));
}

std::string random_bytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng{seed};
  std::string s(n, '\0');
  for (auto& c : s)
    c = static_cast<char>(rng());
  return s;
}

/// Entity ids as real ones are: 22 random characters of base64url.
std::vector<std::string> random_ids(size_t n) {
  std::vector<std::string> ids;
  ids.reserve(n);
  for (size_t i = 0; i < n; ++i)
    ids.push_back(tt::persistence::random_id());
  return ids;
}

fs::path fresh_dir(const options& opt, const std::string& name) {
  auto p = fs::path(opt.dir) / name;
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

struct rate {
  uint64_t values = 0;
  uint64_t batches = 0;
  double seconds = 0;
  double write_seconds = 0;  // inside rocksdb::DB::Write (WAL + fsync + memtable)
  double per_second() const { return seconds > 0 ? values / seconds : 0; }
  double ms_per_batch() const { return batches ? 1e3 * seconds / batches : 0; }
  double write_ms_per_batch() const { return batches ? 1e3 * write_seconds / batches : 0; }
  void operator+=(const rate& x) {
    values += x.values;
    batches += x.batches;
    seconds += x.seconds;
    write_seconds += x.write_seconds;
  }
};

// -- raw RocksDB ------------------------------------------------------------------

/// WriteBatches of `n` values straight into RocksDB, sync=true. Keys are shaped
/// like event keys (kind, 22-char id, '\0', seq) over a pool of 100k ids.
class raw_case {
public:
  raw_case(const options& opt, size_t n) : n_(n), ids_(random_ids(100000)) {
    dir_ = fresh_dir(opt, "raw-" + std::to_string(n));
    rocksdb::Options o;
    o.create_if_missing = true;
    o.IncreaseParallelism(2);  // as event_store does
    o.max_background_jobs = 2;
    rocksdb::DB* raw = nullptr;
    auto st = rocksdb::DB::Open(o, dir_.string(), &raw);
    if (!st.ok()) {
      std::fprintf(stderr, "raw: cannot open %s: %s\n", dir_.c_str(), st.ToString().c_str());
      std::exit(1);
    }
    db_.reset(raw);
    wo_.sync = !opt.no_sync;
    value_ = random_bytes(opt.value_bytes, 42);
  }

  ~raw_case() {
    db_->Close();
    db_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  rate run_for(double seconds) {
    rate r;
    auto t0 = clock_type::now();
    while (since(t0) < seconds) {
      rocksdb::WriteBatch batch;
      for (size_t i = 0; i < n_; ++i) {
        auto& id = ids_[counter_ % ids_.size()];
        key_.assign(1, '\1');
        key_.append(id);
        key_.push_back('\0');
        put_be64(key_, ++counter_);
        batch.Put(key_, value_);
      }
      auto w0 = clock_type::now();
      auto s = db_->Write(wo_, &batch);
      r.write_seconds += since(w0);
      if (!s.ok()) {
        std::fprintf(stderr, "raw: write failed: %s\n", s.ToString().c_str());
        std::exit(1);
      }
      r.values += n_;
      ++r.batches;
    }
    r.seconds = since(t0);
    return r;
  }

private:
  size_t n_;
  std::vector<std::string> ids_;
  fs::path dir_;
  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::WriteOptions wo_;
  std::string value_;
  std::string key_;
  uint64_t counter_ = 0;
};

// -- event_store directly -------------------------------------------------------------

/// `n` one-event appends of `n` entities per append_batch call.
class store_case {
public:
  store_case(const options& opt, size_t n)
    : n_(n), ids_(random_ids(n)), seqs_(n, 0), events_{random_bytes(opt.value_bytes, 7)},
      reqs_(n) {
    dir_ = fresh_dir(opt, "store-" + std::to_string(n));
    tt::persistence::store_options so;
    so.dir = dir_.string();
    so.sync = !opt.no_sync;
    std::string err;
    store_ = tt::persistence::event_store::open(so, &err);
    if (!store_) {
      std::fprintf(stderr, "store: cannot open: %s\n", err.c_str());
      std::exit(1);
    }
  }

  ~store_case() {
    store_->close();
    store_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  rate run_for(double seconds) {
    rate r;
    auto t0 = clock_type::now();
    while (since(t0) < seconds) {
      for (size_t i = 0; i < n_; ++i) {
        auto& q = reqs_[i];
        q.kind = tt::entity_kind::ticket;
        q.entity_id = ids_[i];
        q.expected_seq = seqs_[i];
        q.events = std::span<const std::string>(events_);
      }
      tt::persistence::batch_info info;
      store_->append_batch(reqs_, results_, &info);
      r.write_seconds += info.write_seconds;
      for (size_t i = 0; i < n_; ++i) {
        if (results_[i].code != tt::errc::ok) {
          std::fprintf(stderr, "store: append failed: %s\n", results_[i].message.c_str());
          std::exit(1);
        }
        seqs_[i] = results_[i].last_seq;
      }
      r.values += n_;
      ++r.batches;
    }
    r.seconds = since(t0);
    return r;
  }

private:
  size_t n_;
  std::vector<std::string> ids_;
  std::vector<uint64_t> seqs_;
  std::vector<std::string> events_;
  std::vector<tt::persistence::append_request> reqs_;
  std::vector<tt::persistence::append_result> results_;
  fs::path dir_;
  std::unique_ptr<tt::persistence::event_store> store_;
};

// -- the journal actor, driven by entity-like actors -------------------------------

struct drive_context {
  tt::journal_actor journal;
  std::string event;  // the encoded event every append carries
  std::atomic<bool> paused{true};
  std::atomic<bool> stop{false};
  std::atomic<size_t> in_flight{0};
  std::atomic<size_t> live{0};
  std::atomic<uint64_t> errors{0};
  std::chrono::milliseconds timeout{10000};  // 0: caf::infinite
};

struct writer_state {
  std::shared_ptr<drive_context> ctx;
  std::string id;
  uint64_t seq = 0;
  static inline const char* name = "bench_writer";
};

using writer_actor = caf::stateful_actor<writer_state>;

/// One append, then (after its ack) the next, until paused or stopped. A paused
/// writer parks; the driver's `int` message wakes it again.
void append_next(writer_actor* self) {
  auto& st = self->state;
  if (st.ctx->stop.load(std::memory_order_relaxed)) {
    self->quit();
    return;
  }
  // Count first, then look at `paused`: pause() sets `paused` and then waits
  // for zero, so it cannot miss an append that is about to start.
  st.ctx->in_flight.fetch_add(1);
  if (st.ctx->paused.load()) {
    st.ctx->in_flight.fetch_sub(1);
    return;
  }
  tt::append_events cmd;
  cmd.kind = static_cast<uint8_t>(tt::entity_kind::ticket);
  cmd.entity_id = st.id;
  cmd.expected_seq = st.seq;
  cmd.events.push_back(st.ctx->event);
  // The same shape as persistent_entity.hpp's append (request_journal):
  // no timeout by default (entity_env::append_timeout 0), or the given one.
  auto handle = st.ctx->timeout.count() > 0
                  ? self->request(st.ctx->journal, st.ctx->timeout, std::move(cmd))
                  : self->request(st.ctx->journal, caf::infinite, std::move(cmd));
  handle.then(
      [self](const tt::append_ack& ack) {
        self->state.seq = ack.last_seq;
        self->state.ctx->in_flight.fetch_sub(1);
        append_next(self);
      },
      [self](caf::error& err) {
        auto n = self->state.ctx->errors.fetch_add(1);
        if (n < 5)
          std::fprintf(stderr, "journal: append failed: %s\n",
                       self->system().render(err).c_str());
        self->state.ctx->in_flight.fetch_sub(1);
        self->quit(err);
      });
}

caf::behavior writer(writer_actor* self, std::shared_ptr<drive_context> ctx, std::string id) {
  self->state.ctx = ctx;
  self->state.id = std::move(id);
  ctx->live.fetch_add(1);
  self->attach_functor([ctx] { ctx->live.fetch_sub(1); });
  return {[self](int) { append_next(self); }};
}

tt::journal_stats journal_stats_of(caf::actor_system& sys, const tt::journal_actor& j) {
  caf::scoped_actor self{sys};
  tt::journal_stats out;
  self->request(j, std::chrono::seconds(30), tt::atoms::stats_atom_v)
    .receive([&](tt::journal_stats& s) { out = s; },
             [&](caf::error& err) {
               std::fprintf(stderr, "journal: stats failed: %s\n", sys.render(err).c_str());
             });
  return out;
}

class journal_case {
public:
  journal_case(const options& opt, caf::actor_system& sys, size_t n) : sys_(sys) {
    dir_ = fresh_dir(opt, "journal-" + std::to_string(n));
    tt::persistence::store_options so;
    so.dir = dir_.string();
    so.sync = !opt.no_sync;
    std::string err;
    store_ = tt::persistence::event_store::open(so, &err);
    if (!store_) {
      std::fprintf(stderr, "journal: cannot open store: %s\n", err.c_str());
      std::exit(1);
    }
    tt::persistence::journal_config jc;
    jc.max_batch_events = opt.max_batch;
    jc.max_delay = std::chrono::microseconds(opt.max_delay_us);
    ctx_ = std::make_shared<drive_context>();
    ctx_->journal = tt::persistence::spawn_journal(sys, store_, jc, nullptr);
    ctx_->event = random_bytes(opt.value_bytes, 9);
    ctx_->timeout = std::chrono::milliseconds(opt.append_timeout_ms);
    for (auto& id : random_ids(n))
      writers_.push_back(sys.spawn(writer, ctx_, id));
  }

  ~journal_case() {
    ctx_->stop = true;
    for (auto& w : writers_)
      caf::anon_send(w, 0);  // parked writers see `stop` and quit
    writers_.clear();
    auto deadline = clock_type::now() + 30s;
    while (ctx_->live.load() > 0 && clock_type::now() < deadline)
      std::this_thread::sleep_for(1ms);
    {
      caf::scoped_actor self{sys_};
      self->send_exit(ctx_->journal, caf::exit_reason::user_shutdown);
      self->wait_for(ctx_->journal);
    }
    ctx_->journal = nullptr;
    store_->close();
    store_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  struct result {
    rate r;
    uint64_t conflicts = 0;
  };

  /// Lets the writers run for `seconds` and counts what the journal made durable.
  result run_for(double seconds) {
    resume();
    std::this_thread::sleep_for(20ms);  // every writer has its append in flight again
    auto s0 = journal_stats_of(sys_, ctx_->journal);
    auto t0 = clock_type::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    auto s1 = journal_stats_of(sys_, ctx_->journal);
    result res;
    res.r.seconds = since(t0);
    pause();
    res.r.values = s1.events - s0.events;
    res.r.batches = s1.batches - s0.batches;
    res.conflicts = s1.conflicts - s0.conflicts;
    return res;
  }

  uint64_t errors() const { return ctx_->errors.load(); }

private:
  void resume() {
    ctx_->paused = false;
    for (auto& w : writers_)
      caf::anon_send(w, 0);
  }

  /// Returns once every writer has its last append acked and is parked.
  void pause() {
    ctx_->paused = true;
    while (ctx_->in_flight.load() > 0)
      std::this_thread::sleep_for(100us);
  }

  caf::actor_system& sys_;
  fs::path dir_;
  std::shared_ptr<tt::persistence::event_store> store_;
  std::shared_ptr<drive_context> ctx_;
  std::vector<caf::actor> writers_;
};

std::string fmt_rate(double x) {
  char buf[32];
  if (x >= 1e6)
    std::snprintf(buf, sizeof(buf), "%.2fM", x / 1e6);
  else if (x >= 1e3)
    std::snprintf(buf, sizeof(buf), "%.1fk", x / 1e3);
  else
    std::snprintf(buf, sizeof(buf), "%.0f", x);
  return buf;
}

struct row {
  size_t n = 0;
  rate raw, store, journal;
  uint64_t conflicts = 0;
  uint64_t errors = 0;
  double avg_batch() const { return journal.batches ? double(journal.values) / journal.batches : 0; }
};

} // namespace

int main(int argc, char** argv) {
  options opt;
  opt.dir = (fs::temp_directory_path() / ("tt-bench-journal-" + std::to_string(::getpid()))).string();
  CLI::App app{"tt_bench_journal: journal group commit vs raw RocksDB synced WriteBatches.\n"
               "Progress on stderr; a table and a final JSON line on stdout."};
  app.add_option("--seconds", opt.seconds, "measured seconds per case and size (split in rounds)")
    ->capture_default_str();
  app.add_option("--rounds", opt.rounds,
                 "interleave the cases of one size in this many slices (fsync latency drifts)")
    ->capture_default_str()
    ->check(CLI::Range(1, 100));
  app.add_option("--warmup", opt.warmup, "warm-up seconds per case (not measured)")
    ->capture_default_str();
  app.add_option("--sizes", opt.sizes,
                 "batch sizes for raw/store = number of concurrent entity actors for the journal")
    ->capture_default_str()
    ->delimiter(',');
  app.add_option("--value-bytes", opt.value_bytes, "bytes per value / event")->capture_default_str();
  app.add_option("--dir", opt.dir, "scratch directory (on the disk to measure)")
    ->capture_default_str();
  app.add_flag("--keep", opt.keep, "keep the scratch directory (the RocksDB dirs are removed)");
  app.add_option("--journal-max-batch", opt.max_batch, "journal_config::max_batch_events")
    ->capture_default_str();
  app.add_option("--journal-max-delay-us", opt.max_delay_us, "journal_config::max_delay")
    ->capture_default_str();
  app.add_option("--cases", opt.cases, "which cases to run (raw, store, journal)")
    ->capture_default_str()
    ->delimiter(',')
    ->check(CLI::IsMember({"raw", "store", "journal"}));
  app.add_option("--append-timeout-ms", opt.append_timeout_ms,
                 "request timeout of each append, as entity_env::append_timeout (0: none; "
                 "diagnostic, to see what CAF's timeout bookkeeping costs)")
    ->capture_default_str();
  app.add_flag("--no-sync", opt.no_sync,
               "diagnostic only: sync=false everywhere, to see CPU costs without fsync");
  CLI11_PARSE(app, argc, argv);
  auto wants = [&](const char* c) {
    return std::find(opt.cases.begin(), opt.cases.end(), c) != opt.cases.end();
  };

  fs::create_directories(opt.dir);
  double load_start = loadavg1();
  std::fprintf(stderr,
               "tt_bench_journal: dir %s, %.1f s per case in %d rounds, %zu-byte values%s, "
               "load average %.2f\n",
               opt.dir.c_str(), opt.seconds, opt.rounds, opt.value_bytes,
               opt.no_sync ? " (--no-sync: NOT durable, diagnostic only)" : "", load_start);

  caf::actor_system_config cfg;
  tt::init_message_types(cfg);
  cfg.set("scheduler.max-threads", size_t{2});
  cfg.set("logger.file-verbosity", caf::atom("quiet"));
  cfg.set("logger.console-verbosity", caf::atom("quiet"));
  caf::actor_system sys{cfg};

  std::vector<row> rows;
  double slice = opt.seconds / opt.rounds;
  for (auto n : opt.sizes) {
    row rw;
    rw.n = n;
    std::unique_ptr<raw_case> raw;
    std::unique_ptr<store_case> store;
    std::unique_ptr<journal_case> journal;
    if (wants("raw"))
      raw = std::make_unique<raw_case>(opt, n);
    if (wants("store"))
      store = std::make_unique<store_case>(opt, n);
    if (wants("journal"))
      journal = std::make_unique<journal_case>(opt, sys, n);
    std::fprintf(stderr, "N=%zu: warm-up ...\n", n);
    if (raw)
      raw->run_for(opt.warmup / 2);
    if (store)
      store->run_for(opt.warmup / 2);
    if (journal)
      journal->run_for(opt.warmup);
    for (int k = 0; k < opt.rounds; ++k) {
      if (raw) {
        auto r = raw->run_for(slice);
        rw.raw += r;
        std::fprintf(stderr, "  [raw]     WriteBatch of %zu: %s values/s (%.3f ms/batch)\n", n,
                     fmt_rate(r.per_second()).c_str(), r.ms_per_batch());
      }
      if (store) {
        auto r = store->run_for(slice);
        rw.store += r;
        std::fprintf(stderr,
                     "  [store]   append_batch of %zu: %s events/s (%.3f ms/batch, %.3f ms in "
                     "Write)\n",
                     n, fmt_rate(r.per_second()).c_str(), r.ms_per_batch(),
                     r.write_ms_per_batch());
      }
      if (journal) {
        auto r = journal->run_for(slice);
        rw.journal += r.r;
        rw.conflicts += r.conflicts;
        std::fprintf(stderr,
                     "  [journal] %zu writers: %s events/s, %.1f events/batch, %.3f ms/batch\n", n,
                     fmt_rate(r.r.per_second()).c_str(),
                     r.r.batches ? double(r.r.values) / r.r.batches : 0.0, r.r.ms_per_batch());
      }
    }
    if (journal)
      rw.errors = journal->errors();
    journal.reset();
    store.reset();
    raw.reset();
    rows.push_back(rw);
  }
  if (!opt.keep) {
    std::error_code ec;
    fs::remove_all(opt.dir, ec);
  }

  std::printf("\n%-6s %12s %12s %12s %9s %9s %8s %8s %9s\n", "N", "raw ev/s", "store ev/s",
              "journal ev/s", "avg batch", "j/raw", "j/store", "store/raw", "raw ms/b");
  double best = 0;
  bool ratios_ok = true;
  uint64_t errors = 0;
  for (auto& r : rows) {
    double raw = r.raw.per_second(), st = r.store.per_second(), j = r.journal.per_second();
    double ratio = raw > 0 ? j / raw : 0;
    best = std::max(best, j);
    ratios_ok = ratios_ok && ratio >= 0.5;
    errors += r.errors;
    std::printf("%-6zu %12.0f %12.0f %12.0f %9.1f %8.2fx %8.2fx %8.2fx %9.3f\n", r.n, raw, st, j,
                r.avg_batch(), ratio, st > 0 ? j / st : 0.0, raw > 0 ? st / raw : 0.0,
                r.raw.ms_per_batch());
  }
  double load_end = loadavg1();
  std::printf("load average (1 min) %.2f at start, %.2f at end (this box has 2 cores)\n",
              load_start, load_end);
  std::printf("targets: journal >= 0.50x raw at the same N: %s; >= 100000 durable events/s: %s "
              "(best %.0f)%s\n",
              ratios_ok ? "met" : "NOT met", best >= 100000 ? "met" : "NOT met", best,
              opt.no_sync ? "  [--no-sync: not durable, diagnostic only]" : "");

  std::ostringstream js;
  js << "{\"bench\":\"tt_bench_journal\",\"seconds\":" << opt.seconds << ",\"rounds\":" << opt.rounds
     << ",\"value_bytes\":" << opt.value_bytes << ",\"sync\":" << (opt.no_sync ? "false" : "true")
     << ",\"journal_max_batch\":" << opt.max_batch
     << ",\"journal_max_delay_us\":" << opt.max_delay_us
     << ",\"append_timeout_ms\":" << opt.append_timeout_ms << ",\"loadavg_start\":" << load_start
     << ",\"loadavg_end\":" << load_end << ",\"results\":[";
  for (size_t i = 0; i < rows.size(); ++i) {
    auto& r = rows[i];
    double raw = r.raw.per_second(), j = r.journal.per_second();
    char buf[640];
    std::snprintf(buf, sizeof(buf),
                  "%s{\"n\":%zu,\"raw_values_per_s\":%.0f,\"raw_ms_per_batch\":%.3f,"
                  "\"store_events_per_s\":%.0f,\"journal_events_per_s\":%.0f,"
                  "\"journal_avg_batch\":%.2f,\"journal_ms_per_batch\":%.3f,"
                  "\"ratio_journal_raw\":%.3f,\"errors\":%" PRIu64 ",\"conflicts\":%" PRIu64 "}",
                  i ? "," : "", r.n, raw, r.raw.ms_per_batch(), r.store.per_second(), j,
                  r.avg_batch(), r.journal.ms_per_batch(), raw > 0 ? j / raw : 0.0, r.errors,
                  r.conflicts);
    js << buf;
  }
  js << "],\"best_journal_events_per_s\":" << static_cast<uint64_t>(best)
     << ",\"target_ratio\":0.5,\"target_events_per_s\":100000,\"ratio_target_met\":"
     << (ratios_ok ? "true" : "false")
     << ",\"throughput_target_met\":" << (best >= 100000 ? "true" : "false") << "}";
  std::printf("%s\n", js.str().c_str());
  return errors == 0 ? 0 : 2;
}
