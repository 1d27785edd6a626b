#include "actors/valuation_service.hpp"

#include "actors/market_generator.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <istream>

#include "caf/actor_system.hpp"
#include "caf/send.hpp"
#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"
#include "messages/errc.hpp"
#include "messages/log.hpp"
#include "persistence/event_store.hpp"

namespace tt::actors {

// -- the --event-meta file ----------------------------------------------------------

const char* const event_meta_csv_header = "event_id,team_rank,opponent_rank,demand_score";

std::unordered_map<std::string, event_extra> read_event_meta_csv(std::istream& in,
                                                                 const std::string& name) {
  std::unordered_map<std::string, event_extra> out;
  std::string line;
  size_t n = 0;
  auto fail = [&](const std::string& problem) {
    throw valuation_error(name + ":" + std::to_string(n) + ": " + problem);
  };
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    if (n == 1) {
      if (line != event_meta_csv_header)
        fail(std::string("the header must be exactly '") + event_meta_csv_header + "'");
      continue;
    }
    if (line.empty())
      continue;
    std::vector<std::string> cols;
    size_t pos = 0;
    while (true) {
      auto comma = line.find(',', pos);
      cols.push_back(line.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
      if (comma == std::string::npos)
        break;
      pos = comma + 1;
    }
    if (cols.size() != 4)
      fail("expected 4 columns, got " + std::to_string(cols.size()));
    if (cols[0].empty() || cols[0].find('"') != std::string::npos)
      fail("column event_id: must be non-empty text without quotes");
    event_extra x;
    auto rank = [&](const std::string& s, const char* col, int32_t& v) {
      auto r = std::from_chars(s.data(), s.data() + s.size(), v);
      if (s.empty() || r.ec != std::errc{} || r.ptr != s.data() + s.size() || v < 0 || v > 1000)
        fail(std::string("column ") + col + ": '" + s + "' is not an integer 0..1000");
    };
    rank(cols[1], "team_rank", x.team_rank);
    rank(cols[2], "opponent_rank", x.opponent_rank);
    {
      const auto& s = cols[3];
      auto r = std::from_chars(s.data(), s.data() + s.size(), x.demand_score);
      if (s.empty() || r.ec != std::errc{} || r.ptr != s.data() + s.size()
          || !(x.demand_score >= 0 && x.demand_score <= 100))
        fail("column demand_score: '" + s + "' is not a number 0..100");
    }
    if (!out.emplace(cols[0], x).second)
      fail("event '" + cols[0] + "' appears twice");
  }
  if (n == 0)
    fail(std::string("empty file; the header is '") + event_meta_csv_header + "'");
  return out;
}

// -- the tables ---------------------------------------------------------------------

valuation_tables::valuation_tables(std::unordered_map<std::string, event_extra> extra)
  : extra_(std::move(extra)) {}

void valuation_tables::put_event(const ticket_fields& f) {
  event_meta m;
  m.event_id = f.event_id;
  m.category = f.category;
  m.venue = f.venue;
  m.starts_at_ms = f.event_starts_at_ms;
  m.demand_score = default_demand_score;
  if (auto it = extra_.find(f.event_id); it != extra_.end()) {
    m.team_rank = it->second.team_rank;
    m.opponent_rank = it->second.opponent_rank;
    m.demand_score = it->second.demand_score;
  }
  data_.add_event(std::move(m));
}

void valuation_tables::add_face(const std::string& venue, const std::string& section, int64_t face) {
  auto& v = faces_[venue][section];
  v.insert(std::upper_bound(v.begin(), v.end(), face), face);
  dirty_venues_.insert(venue);
}

void valuation_tables::drop_face(const std::string& venue, const std::string& section,
                                 int64_t face) {
  auto vi = faces_.find(venue);
  if (vi == faces_.end())
    return;
  auto si = vi->second.find(section);
  if (si == vi->second.end())
    return;
  auto& v = si->second;
  if (auto it = std::lower_bound(v.begin(), v.end(), face); it != v.end() && *it == face)
    v.erase(it);
  if (v.empty())
    vi->second.erase(si);
  dirty_venues_.insert(venue);
}

void valuation_tables::see_ticket(const std::string& id, const ticket_fields& f) {
  auto [it, fresh] = tickets_.try_emplace(id);
  auto& row = it->second;
  if (!fresh)
    drop_face(row.venue, row.section, row.face_value_minor);  // a relisting counts once
  row.event_id = f.event_id;
  row.venue = f.venue;
  row.section = f.section;
  row.face_value_minor = f.face_value_minor;
  row.price_minor = f.price_minor;
  add_face(row.venue, row.section, row.face_value_minor);
  put_event(f);
}

void valuation_tables::refresh_venue(const std::string& venue) {
  if (!dirty_venues_.erase(venue))
    return;
  auto vi = faces_.find(venue);
  if (vi == faces_.end())
    return;
  // Rank the sections by their median face value (the lower middle value).
  std::vector<std::pair<int64_t, const std::string*>> medians;
  for (const auto& [section, faces] : vi->second)
    if (!faces.empty())
      medians.emplace_back(faces[(faces.size() - 1) / 2], &section);
  std::sort(medians.begin(), medians.end());
  size_t n = medians.size();
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && medians[j].first == medians[i].first)
      ++j;
    // Ties share the mean of their ranks i..j-1.
    double rank = (static_cast<double>(i) + static_cast<double>(j - 1)) / 2.0;
    double d = n == 1 ? 0.5 : rank / static_cast<double>(n - 1);
    for (size_t k = i; k < j; ++k)
      data_.add_section(section_info{venue, *medians[k].second, 0, std::round(d * 1000.0) / 1000.0});
    i = j;
  }
}

double valuation_tables::desirability(const std::string& venue, const std::string& section) {
  refresh_venue(venue);
  const auto* s = data_.section(venue, section);
  return s ? s->desirability : 0.5;
}

void valuation_tables::apply(uint64_t offset, const event_envelope& ev) {
  if (offset >= next_offset_)
    next_offset_ = offset + 1;
  if (ev.kind == entity_kind::ticket) {
    if (auto* x = std::get_if<ticket_listed>(&ev.payload)) {
      see_ticket(ev.entity_id, x->fields);
    } else if (auto* x = std::get_if<ticket_updated>(&ev.payload)) {
      auto it = tickets_.find(ev.entity_id);
      if (it == tickets_.end())
        return;
      // Rebuild the listing's fields as they are now, then see it again.
      ticket_fields f;
      const auto* e = data_.event(it->second.event_id);
      f.event_id = it->second.event_id;
      f.venue = it->second.venue;
      f.section = it->second.section;
      f.face_value_minor = it->second.face_value_minor;
      f.price_minor = it->second.price_minor;
      if (e) {
        f.category = e->category;
        f.event_starts_at_ms = e->starts_at_ms;
      }
      apply_patch(f, x->patch);
      if (x->patch.has_venue || x->patch.has_category || x->patch.has_event_starts_at)
        see_ticket(ev.entity_id, f);
      else
        it->second.price_minor = f.price_minor;
    }
    return;
  }
  if (ev.kind != entity_kind::trade)
    return;
  if (auto* x = std::get_if<trade_proposed>(&ev.payload)) {
    auto& ids = open_trades_[ev.entity_id];
    ids = x->give;
    ids.insert(ids.end(), x->take.begin(), x->take.end());
  } else if (auto* x = std::get_if<trade_status_changed>(&ev.payload)) {
    if (!is_final(x->status))
      return;
    auto it = open_trades_.find(ev.entity_id);
    if (it == open_trades_.end())
      return;
    if (x->status == trade_status::completed) {
      ++trades_completed_;
      for (const auto& id : it->second) {
        auto t = tickets_.find(id);
        if (t == tickets_.end())
          continue;
        data_.add_trade(t->second.event_id, ev.timestamp_ms);
        if (t->second.price_minor > 0) {
          medians_.add(t->second.event_id, t->second.section, t->second.price_minor);
          training_row row;
          row.event_id = t->second.event_id;
          row.section = t->second.section;
          ticket_fields f;
          f.event_id = t->second.event_id;
          f.venue = t->second.venue;
          f.section = t->second.section;
          f.face_value_minor = t->second.face_value_minor;
          if (const auto* e = data_.event(f.event_id)) {
            f.category = e->category;
            f.event_starts_at_ms = e->starts_at_ms;
          }
          row.features = features(f, ev.timestamp_ms);
          row.price_minor = t->second.price_minor;
          if (sales_.size() >= 2'000'000)  // bounded: keep the newest
            sales_.erase(sales_.begin(), sales_.begin() + 1'000'000);
          sales_.push_back(std::move(row));
        }
      }
    }
    open_trades_.erase(it);
  }
}

valuation_features valuation_tables::features(const ticket_fields& f, int64_t at_ms) {
  if (!data_.event(f.event_id))
    put_event(f);
  if (auto vi = faces_.find(f.venue); vi == faces_.end() || !vi->second.count(f.section))
    add_face(f.venue, f.section, f.face_value_minor);
  const event_meta* e = data_.event(f.event_id);
  valuation_features v;
  v.section_desirability = desirability(f.venue, f.section);
  v.demand_score = e->demand_score;
  v.team_rank = e->team_rank;
  v.opponent_rank = e->opponent_rank;
  // The ticket's own venue, category and start are the truth for it (other
  // listings of the event may say otherwise; the latest one names the event).
  v.category = f.category;
  v.venue = f.venue;
  constexpr int64_t day_ms = 86'400'000;
  v.days_to_event = std::max<double>(0, static_cast<double>(f.event_starts_at_ms - at_ms) / day_ms);
  v.resale_velocity = static_cast<double>(
    data_.trades_between(f.event_id, at_ms - market_data::velocity_window_ms, at_ms));
  int64_t days = f.event_starts_at_ms >= 0 ? f.event_starts_at_ms / day_ms
                                           : -((-f.event_starts_at_ms + day_ms - 1) / day_ms);
  v.weekday = static_cast<int32_t>(((days + 4) % 7 + 7) % 7);  // 1970-01-01 was a Thursday
  {
    // Civil month (UTC) from days since the epoch (H. Hinnant's algorithm).
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    v.month = static_cast<int32_t>(mp < 10 ? mp + 3 : mp - 9);
  }
  v.face_value_minor = f.face_value_minor;
  return v;
}

std::string newest_model_file(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (dir.empty() || !fs::is_directory(dir, ec))
    return {};
  std::string best;
  fs::file_time_type best_time{};
  for (fs::directory_iterator it{dir, ec}, end; !ec && it != end; it.increment(ec)) {
    const auto& p = it->path();
    if (p.extension() != ".model" || !it->is_regular_file(ec))
      continue;
    auto t = it->last_write_time(ec);
    if (ec)
      continue;
    if (best.empty() || t > best_time || (t == best_time && p.string() > best)) {
      best = p.string();
      best_time = t;
    }
  }
  return best;
}

} // namespace tt::actors

// -- the actor ------------------------------------------------------------------------

namespace tt::actors {

namespace {

/// Local only: a load request for the detached loader and its answer.
struct load_request {
  std::string path;
};
/// Local only: train on `rows`, save under `dir`, answer as a load.
struct train_request {
  std::vector<training_row> rows;
  std::string dir;
  uint64_t seed = 1;
};
struct loaded_model {
  std::shared_ptr<const valuation_model> model;
  std::string path;
  std::string error;
};

} // namespace
} // namespace tt::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tt::actors::load_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tt::actors::train_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tt::actors::loaded_model)

namespace tt::actors {

namespace {

using loader_actor = caf::typed_actor<caf::replies_to<load_request>::with<loaded_model>,
                                      caf::replies_to<train_request>::with<loaded_model>>;

/// Loads one model file on its own thread (a detached actor), so neither the
/// scheduler nor start-up waits for XGBoost to parse it.
/// One job per loader: it quits after answering, so a load or a training
/// still running when the service stops never outlives the node's shutdown
/// (await_all_actors_done would wait for it forever).
loader_actor::behavior_type loader_impl(loader_actor::pointer self) {
  return {
    [self](load_request& r) -> loaded_model {
      self->quit();
      loaded_model out;
      out.path = r.path;
      try {
        out.model = std::make_shared<const valuation_model>(valuation_model::load(r.path));
      } catch (const std::exception& e) {
        out.error = e.what();
      }
      return out;
    },
    [self](train_request& r) -> loaded_model {
      self->quit();
      // Blocks this (detached) thread for the training; XGBoost on 1 thread.
      loaded_model out;
      try {
        auto m = std::make_shared<valuation_model>();
        train_params tp;
        tp.seed = r.seed;
        m->train(r.rows, tp, {});
        std::filesystem::create_directories(r.dir);
        out.path = r.dir + "/tt-val-retrain-" + std::to_string(r.seed) + ".model";
        m->save(out.path);
        out.model = std::move(m);
      } catch (const std::exception& e) {
        out.error = e.what();
      }
      return out;
    },
  };
}

std::string metrics_json(const valuation_model& m) {
  const auto& x = m.metrics();
  boost::json::object o{{"train_rows", x.train_rows},
                        {"validation_rows", x.validation_rows},
                        {"mae_minor", x.mae_minor},
                        {"baseline_mae_minor", x.baseline_mae_minor},
                        {"mae_ratio", x.mae_ratio},
                        {"r2", x.r2},
                        {"median_ape", x.median_ape},
                        {"accurate_fraction", x.accurate_fraction},
                        {"confident_share", x.confident_share},
                        {"confident_accurate", x.confident_accurate}};
  return boost::json::serialize(o);
}

int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

struct service_state {
  std::shared_ptr<const persistence::event_store> store;
  ticket_region_actor tickets;
  valuation_service_config cfg;
  valuation_tables tables;
  std::shared_ptr<const valuation_model> model;  // null until a load succeeded
  model_status status;
  uint64_t target = 0;  // the log end we know of
  bool ready = false;   // caught up with the log as it was at start
  bool training = false;  // a retrain runs
  static inline const char* name = "valuation_service";
};

using service_pointer = valuation_service_actor::stateful_pointer<service_state>;

constexpr size_t feed_chunk = 4096;

/// Resolves the path to load: the request's, the configured one, or the
/// newest file in the models directory.
std::string path_to_load(const service_state& st, const std::string& asked) {
  if (!asked.empty())
    return asked;
  if (!st.cfg.model_path.empty())
    return st.cfg.model_path;
  return newest_model_file(st.cfg.models_dir);
}

/// Loads in the background; `done(status)` once finished (success or not).
template <class Done>
void start_load(service_pointer self, const std::string& asked, Done done) {
  auto path = path_to_load(self->state, asked);
  if (path.empty()) {
    auto& st = self->state;
    st.status.error = "no model file: none given with --model and no *.model in "
                      + st.cfg.models_dir + " (train one with tt-train)";
    return done(st.status);
  }
  auto loader = self->system().spawn<caf::detached>(loader_impl);
  self->request(loader, caf::infinite, load_request{path})
    .then(
      [self, loader, done](loaded_model& r) mutable {
        caf::anon_send_exit(loader, caf::exit_reason::user_shutdown);
        auto& st = self->state;
        if (r.model) {
          st.model = std::move(r.model);
          st.status.loaded = true;
          st.status.version = st.model->version();
          st.status.path = r.path;
          st.status.metrics_json = metrics_json(*st.model);
          st.status.error.clear();
          st.status.loaded_at_ms = wall_ms();
          log::info("valuation_model_loaded", {{"path", r.path}, {"version", st.status.version}});
        } else {
          st.status.error = r.error;
          log::warn("valuation_model_load_failed", {{"path", r.path}, {"error", r.error}});
        }
        done(st.status);
      },
      [self, loader, done](caf::error& err) mutable {
        caf::anon_send_exit(loader, caf::exit_reason::user_shutdown);
        self->state.status.error = "the model loader failed: " + describe(err).message;
        done(self->state.status);
      });
}

/// The retrain timer: entity (unknown, "valuation"), timer "retrain".
constexpr const char* retrain_entity = "valuation";
constexpr const char* retrain_timer = "retrain";

/// Moves the durable retrain timer to `due_ms` (through the journal, like
/// every store write; a timer-only append of no events).
void schedule_retrain(service_pointer self, int64_t due_ms) {
  auto& st = self->state;
  if (!st.cfg.journal)
    return;
  append_events cmd;
  cmd.kind = static_cast<uint8_t>(entity_kind::unknown);
  cmd.entity_id = retrain_entity;
  cmd.expected_seq = 0;
  cmd.timer_writes = {retrain_timer, std::to_string(due_ms)};
  self->request(st.cfg.journal, st.cfg.request_timeout, std::move(cmd))
    .then([due_ms](append_ack&) { log::info("valuation_retrain_scheduled", {{"due_ms", due_ms}}); },
          [](caf::error& err) {
            log::warn("valuation_retrain_not_scheduled", {{"reason", describe(err).message}});
          });
}

/// Reschedules the timer, then trains on the base market plus the log's
/// sales on a detached actor and loads the result.
model_status retrain(service_pointer self) {
  auto& st = self->state;
  auto now = wall_ms();
  schedule_retrain(self, next_retrain_ms(now, st.cfg.retrain_hour_utc, st.cfg.retrain_interval));
  auto status = st.status;
  if (st.training) {
    status.error = "a retrain is running";
    return status;
  }
  std::vector<training_row> rows;
  if (st.cfg.retrain_base_sales > 0) {
    market_params mp;
    mp.sales = st.cfg.retrain_base_sales;
    rows = generate_market(mp).rows;
  }
  const auto& sales = st.tables.sales();
  rows.insert(rows.end(), sales.begin(), sales.end());
  if (rows.size() < 200) {
    status.error = "retrain skipped: " + std::to_string(rows.size()) + " sales (200 needed)";
    log::warn("valuation_retrain_skipped", {{"rows", static_cast<uint64_t>(rows.size())}});
    return status;
  }
  st.training = true;
  log::info("valuation_retrain_started", {{"rows", static_cast<uint64_t>(rows.size())},
                                         {"log_sales", static_cast<uint64_t>(sales.size())}});
  auto trainer = self->system().spawn<caf::detached>(loader_impl);
  self->request(trainer, caf::infinite,
                train_request{std::move(rows), st.cfg.models_dir, static_cast<uint64_t>(now)})
    .then(
      [self, trainer](loaded_model& r) {
        caf::anon_send_exit(trainer, caf::exit_reason::user_shutdown);
        self->state.training = false;
        if (!r.model) {
          log::error("valuation_retrain_failed", {{"error", r.error}});
          return;
        }
        log::info("valuation_retrain_done", {{"path", r.path}, {"version", r.model->version()}});
        start_load(self, r.path, [](const model_status&) {});
      },
      [self, trainer](caf::error& err) {
        caf::anon_send_exit(trainer, caf::exit_reason::user_shutdown);
        self->state.training = false;
        log::error("valuation_retrain_failed", {{"error", describe(err).message}});
      });
  status.error.clear();
  return status;
}

ticket_valuation to_reply(const std::string& id, const ticket_view& v, const valuation& val,
                          int64_t at_ms) {
  ticket_valuation out;
  out.ticket_id = id;
  out.credit_minor = val.credit_minor;
  out.currency = v.fields.currency;
  auto ppm = std::llround(std::clamp(val.confidence, 0.0, 1.0) * 1'000'000.0);
  out.confidence_ppm = static_cast<uint32_t>(ppm);
  out.model_version = val.model_version;
  out.method = val.method;
  out.median_samples = static_cast<uint32_t>(std::max<int64_t>(0, val.median_samples));
  for (const auto& f : val.positive)
    out.positive.push_back(valuation_factor{f.feature, f.contribution_minor});
  for (const auto& f : val.negative)
    out.negative.push_back(valuation_factor{f.feature, f.contribution_minor});
  out.valued_at_ms = at_ms;
  return out;
}

caf::result<ticket_valuation> valuate(service_pointer self, valuate_ticket& cmd) {
  auto& st = self->state;
  if (!st.model)
    return make_error(errc::unavailable,
                      "no valuation model is loaded" + (st.status.error.empty() ? std::string{}
                                                                                 : ": " + st.status.error)
                        + "; train one with `tt-train --generate 20000 --out "
                        + (st.cfg.models_dir.empty() ? std::string{"MODEL"} : st.cfg.models_dir + "/NAME")
                        + ".model`, then `tt-admin -c \"model reload\"` or restart the node",
                      "model");
  if (!st.ready)
    return make_error(errc::unavailable, "the valuation service is still reading the event log",
                      "market");
  auto rp = self->make_response_promise<ticket_valuation>();
  auto timeout = st.cfg.request_timeout;
  auto id = cmd.ticket_id;
  auto meta = cmd.meta;
  self->request(st.tickets, timeout, get_ticket{id})
    .then(
      [self, rp, timeout, id, meta](ticket_view& v) mutable {
        auto& st = self->state;
        auto model = st.model;  // the model at this moment; a reload does not disturb it
        auto now = wall_ms();
        valuation val;
        try {
          auto f = st.tables.features(v.fields, now);
          val = model->valuate(f, st.tables.medians(), v.fields.event_id, v.fields.section,
                               st.cfg.threshold);
        } catch (const std::exception& e) {
          log::warn("valuation_failed", {{"ticket", id}, {"error", e.what()}});
          rp.deliver(make_error(errc::unavailable, std::string{"valuation failed: "} + e.what()));
          return;
        }
        auto reply = to_reply(id, v, val, now);
        record_valuation rec;
        rec.ticket_id = id;
        rec.credit_minor = reply.credit_minor;
        rec.currency = reply.currency;
        rec.confidence_ppm = reply.confidence_ppm;
        rec.model_version = reply.model_version;
        rec.method = reply.method;
        rec.median_samples = reply.median_samples;
        rec.meta = meta;
        // A 200 means the valuation is recorded (or equal to the last one).
        self->request(st.tickets, timeout, std::move(rec))
          .then([rp, reply](ticket_view&) mutable { rp.deliver(std::move(reply)); },
                [rp](caf::error& err) mutable { rp.deliver(err); });
      },
      [rp](caf::error& err) mutable { rp.deliver(err); });
  return rp;
}

valuation_service_actor::behavior_type
valuation_service_impl(service_pointer self, std::shared_ptr<const persistence::event_store> store,
                       ticket_region_actor tickets, valuation_service_config cfg) {
  auto& st = self->state;
  st.store = std::move(store);
  st.tickets = std::move(tickets);
  st.tables = valuation_tables{cfg.event_meta};
  st.cfg = std::move(cfg);
  st.status.metrics_json = "{}";
  start_load(self, {}, [](const model_status& s) {
    if (!s.loaded)
      log::warn("valuation_model_missing", {{"error", s.error}});
  });
  // Catch up with the log as it is now, one chunk per message.
  st.target = st.store->next_offset();
  self->send(self, log_advanced{st.target});
  return {
    [self](log_advanced& adv) {
      auto& st = self->state;
      st.target = std::max(st.target, adv.next_offset);
      auto from = st.tables.next_offset();
      size_t visited = 0;
      if (from < st.target) {
        visited = st.store->read_log(from, feed_chunk, [&](uint64_t offset, std::string_view bytes) {
          if (auto ev = decode_event(bytes))
            st.tables.apply(offset, *ev);
          else
            st.tables.apply(offset, event_envelope{});  // skip, but advance
          return true;
        });
      }
      if (visited > 0 && st.tables.next_offset() < st.target) {
        self->send(self, log_advanced{st.target});
      } else if (!st.ready) {
        st.ready = true;
        // The first run of the nightly retrain, once (the timer is durable).
        if (st.cfg.journal
            && !st.store->timer_due(entity_kind::unknown, retrain_entity, retrain_timer))
          schedule_retrain(self, next_retrain_ms(wall_ms(), st.cfg.retrain_hour_utc,
                                                 st.cfg.retrain_interval));
        log::info("valuation_service_ready",
                  {{"tickets", std::to_string(st.tables.tickets_seen())},
                   {"completed_trades", std::to_string(st.tables.trades_completed())},
                   {"next_offset", std::to_string(st.tables.next_offset())}});
      }
    },
    [self](valuate_ticket& cmd) { return valuate(self, cmd); },
    [self](retrain_model&) -> model_status { return retrain(self); },
    [self](reload_model& cmd) -> caf::result<model_status> {
      auto rp = self->make_response_promise<model_status>();
      start_load(self, cmd.path, [rp](const model_status& s) mutable { rp.deliver(s); });
      return rp;
    },
  };
}

} // namespace

valuation_service_actor spawn_valuation_service(caf::actor_system& sys,
                                                std::shared_ptr<const persistence::event_store> store,
                                                ticket_region_actor tickets,
                                                valuation_service_config cfg) {
  return sys.spawn(valuation_service_impl, std::move(store), std::move(tickets), std::move(cfg));
}

int64_t next_retrain_ms(int64_t now_ms, int retrain_hour_utc, std::chrono::seconds interval) {
  if (interval.count() > 0)
    return now_ms + std::chrono::duration_cast<std::chrono::milliseconds>(interval).count();
  constexpr int64_t day_ms = 86'400'000;
  int64_t day_start = now_ms - ((now_ms % day_ms) + day_ms) % day_ms;
  int64_t at = day_start + static_cast<int64_t>(std::clamp(retrain_hour_utc, 0, 23)) * 3'600'000;
  return at > now_ms ? at : at + day_ms;
}

} // namespace tt::actors
