// tt-admin: an operator's shell into a live node over its cluster port (CAF
// middleman). `tt-admin --node HOST:PORT` opens an interactive shell
// (readline history and completion, `help`); `-c COMMAND` runs one command
// and exits. Authenticates with the cluster's admin secret (TT_ADMIN_SECRET
// or --secret-file); the node refuses everything without it.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <readline/history.h>
#include <readline/readline.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/io/middleman.hpp"
#include "caf/scoped_actor.hpp"
#include "messages/cluster_regions.hpp"
#include "messages/errc.hpp"
#include "messages/system.hpp"
#include "nodes/tcp_probe.hpp"

namespace json = boost::json;

namespace {

const char* const verbs[] = {"nodes", "shards", "shard", "entity", "snapshot", "passivate",
                             "timers", "stats", "config", "model", "match", "help", "quit",
                             "exit", nullptr};
const char* const kinds[] = {"ticket", "account", "wallet", "trade", "email_index", nullptr};
const char* const entity_words[] = {"show", "events", nullptr};
const char* const shard_words[] = {"move", nullptr};
const char* const model_words[] = {"reload", "retrain", nullptr};
const char* const timers_words[] = {"--due", nullptr};

/// The words readline offers at the cursor (set by `complete`).
const char* const* candidates = verbs;

char* word_generator(const char* text, int state) {
  static size_t idx;
  static size_t len;
  if (state == 0) {
    idx = 0;
    len = std::strlen(text);
  }
  while (const char* v = candidates[idx]) {
    ++idx;
    if (std::strncmp(v, text, len) == 0)
      return strdup(v);
  }
  return nullptr;
}

/// Completes the verb, then the word its grammar expects next: `entity
/// show|events`, then KIND; `snapshot|passivate KIND`; `shard move`;
/// `model reload|retrain`; `timers --due`.
char** complete(const char* text, int start, int) {
  rl_attempted_completion_over = 1;
  std::vector<std::string> before;
  {
    std::istringstream in(std::string(rl_line_buffer, static_cast<size_t>(start)));
    for (std::string w; in >> w;)
      before.push_back(w);
  }
  candidates = nullptr;
  if (before.empty())
    candidates = verbs;
  else if (before.size() == 1 && before[0] == "entity")
    candidates = entity_words;
  else if ((before.size() == 2 && before[0] == "entity")
           || (before.size() == 1 && (before[0] == "snapshot" || before[0] == "passivate")))
    candidates = kinds;
  else if (before.size() == 1 && before[0] == "shard")
    candidates = shard_words;
  else if (before.size() == 1 && before[0] == "model")
    candidates = model_words;
  else if (before.size() == 1 && before[0] == "timers")
    candidates = timers_words;
  if (candidates == nullptr)
    return nullptr;
  return rl_completion_matches(text, word_generator);
}

std::vector<std::string> split_words(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  std::string w;
  while (in >> w)
    out.push_back(w);
  return out;
}

std::string cell(const json::value& v) {
  if (v.is_string())
    return std::string{v.as_string()};
  if (v.is_null())
    return "-";
  if (v.is_double()) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f", v.as_double());
    return buf;
  }
  return json::serialize(v);
}

/// Renders an array of flat objects as an aligned table.
void print_table(const json::array& rows) {
  std::vector<std::string> cols;
  for (auto& r : rows)
    if (r.is_object())
      for (auto& kv : r.as_object())
        if (std::find(cols.begin(), cols.end(), std::string{kv.key()}) == cols.end())
          cols.emplace_back(kv.key());
  std::vector<size_t> width(cols.size());
  for (size_t i = 0; i < cols.size(); ++i)
    width[i] = cols[i].size();
  std::vector<std::vector<std::string>> cells;
  for (auto& r : rows) {
    std::vector<std::string> line;
    for (size_t i = 0; i < cols.size(); ++i) {
      std::string c = "-";
      if (r.is_object())
        if (auto it = r.as_object().find(cols[i]); it != r.as_object().end())
          c = cell(it->value());
      width[i] = std::max(width[i], c.size());
      line.push_back(std::move(c));
    }
    cells.push_back(std::move(line));
  }
  auto print_row = [&](const std::vector<std::string>& line) {
    for (size_t i = 0; i < line.size(); ++i)
      std::printf("%-*s%s", static_cast<int>(width[i]), line[i].c_str(),
                  i + 1 < line.size() ? "  " : "\n");
  };
  std::vector<std::string> header;
  for (auto& c : cols) {
    std::string u = c;
    for (auto& ch : u)
      ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    header.push_back(u);
  }
  print_row(header);
  for (auto& l : cells)
    print_row(l);
  std::printf("(%zu rows)\n", rows.size());
}

void render(const std::string& text, bool as_json) {
  if (as_json) {
    std::printf("%s\n", text.c_str());
    return;
  }
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    std::printf("%s\n", text.c_str());
    return;
  }
  auto& o = v.as_object();
  if (o.size() == 1 && o.begin()->value().is_array()) {
    print_table(o.begin()->value().as_array());
    return;
  }
  if (o.size() == 1 && o.begin()->value().is_object())
    return render(json::serialize(o.begin()->value()), false);
  size_t w = 0;
  for (auto& kv : o)
    w = std::max(w, kv.key().size());
  for (auto& kv : o)
    std::printf("%-*s  %s\n", static_cast<int>(w), std::string{kv.key()}.c_str(),
                cell(kv.value()).c_str());
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"tt-admin: operator shell for a live Ticket Trader node (over its cluster port)"};
  std::string node = "127.0.0.1:7070";
  std::string command;
  std::string secret_file;
  bool as_json = false;
  int timeout_s = 10;
  app.add_option("--node", node, "HOST:PORT of a node's cluster port")->capture_default_str();
  app.add_option("-c,--command", command, "run one command and exit (e.g. \"nodes\")");
  app.add_option("--secret-file", secret_file, "file with the admin secret (else TT_ADMIN_SECRET)");
  app.add_flag("--json", as_json, "print raw JSON instead of tables");
  app.add_option("--timeout-s", timeout_s, "per-command timeout")->capture_default_str();
  app.footer("Commands: nodes | shards | shard move SHARD NODE | entity show KIND ID\n"
             "          entity events KIND ID [--from SEQ] | snapshot KIND ID | passivate KIND ID\n"
             "          timers [--due] | stats | config | model reload [PATH] | model retrain\n"
             "          match | help\n"
             "KIND: ticket, account, wallet, trade, email_index. Any node answers: entity\n"
             "commands run on the node that owns the entity's shard.");
  CLI11_PARSE(app, argc, argv);

  std::string secret;
  if (!secret_file.empty()) {
    std::ifstream in(secret_file);
    std::getline(in, secret);
  } else if (const char* env = std::getenv("TT_ADMIN_SECRET")) {
    secret = env;
  }
  if (secret.empty()) {
    std::fprintf(stderr, "tt-admin: no admin secret (set TT_ADMIN_SECRET or --secret-file)\n");
    return 2;
  }
  auto colon = node.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "tt-admin: --node must be HOST:PORT\n");
    return 2;
  }
  std::string host = node.substr(0, colon);
  uint16_t port = 0;
  try {
    port = static_cast<uint16_t>(std::stoul(node.substr(colon + 1)));
  } catch (...) {
  }
  if (port == 0) {
    std::fprintf(stderr, "tt-admin: bad port in --node %s\n", node.c_str());
    return 2;
  }

  caf::actor_system_config cfg;
  tt::init_message_types(cfg);
  cfg.load<caf::io::middleman>();
  cfg.set("logger.file-verbosity", caf::atom("quiet"));
  cfg.set("logger.console-verbosity", caf::atom("quiet"));
  // A node that does not answer fails within the timeout (CAF's own connect
  // would wait for the kernel's SYN retries, about two minutes).
  if (std::string why;
      !tt::nodes::tcp_probe(host, port, std::chrono::seconds(std::max(timeout_s, 1)), &why)) {
    std::fprintf(stderr, "tt-admin: cannot connect to %s: %s\n", node.c_str(), why.c_str());
    return 1;
  }
  caf::actor_system sys{cfg};
  auto gw = sys.middleman().remote_actor<tt::cluster_gateway_actor>(host, port);
  if (!gw) {
    std::fprintf(stderr, "tt-admin: cannot connect to %s: %s\n", node.c_str(),
                 caf::to_string(gw.error()).c_str());
    return 1;
  }
  caf::scoped_actor self{sys};
  auto run = [&](const std::vector<std::string>& args) -> bool {
    tt::admin_command cmd;
    cmd.secret = secret;
    cmd.args = args;
    bool ok = false;
    self->request(*gw, std::chrono::seconds(timeout_s), std::move(cmd))
      .receive(
        [&](tt::admin_reply& r) {
          render(r.json, as_json);
          ok = true;
        },
        [&](caf::error& err) {
          auto info = tt::describe(err);
          std::fprintf(stderr, "error: %s: %s\n", tt::to_string(info.code), info.message.c_str());
        });
    return ok;
  };
  if (!command.empty())
    return run(split_words(command)) ? 0 : 1;

  rl_attempted_completion_function = complete;
  std::string history;
  if (const char* home = std::getenv("HOME"))
    history = std::string{home} + "/.tt_admin_history";
  if (!history.empty())
    read_history(history.c_str());
  std::printf("tt-admin connected to %s; type help, quit to leave\n", node.c_str());
  while (char* line = readline("tt> ")) {
    std::string l = line;
    std::free(line);
    auto words = split_words(l);
    if (words.empty())
      continue;
    add_history(l.c_str());
    if (words[0] == "quit" || words[0] == "exit")
      break;
    run(words);
  }
  if (!history.empty())
    write_history(history.c_str());
  return 0;
}
