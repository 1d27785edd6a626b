// tt_make_golden DIR: writes the encodings of golden_events.cpp to DIR/<name>.bin.
// Use only for a NEW schema version's directory; old versions' bytes are
// history and must never be rewritten.
#include <cstdio>
#include <fstream>
#include <string>

#include "golden_events.hpp"

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3 || std::string(argv[1]) == "--help") {
    std::fprintf(stderr, "usage: tt_make_golden OUT_DIR [VERSION]  (writes <name>.bin per golden "
                         "event of schema VERSION, default the current one: 5)\n");
    return argc == 2 ? 0 : 1;
  }
  std::string dir = argv[1];
  std::string version = argc == 3 ? argv[2] : "5";
  if (version != "1" && version != "2" && version != "3" && version != "4" && version != "5") {
    std::fprintf(stderr, "tt_make_golden: unknown schema version %s (1 to 5)\n", version.c_str());
    return 1;
  }
  auto events = version == "1"   ? tt::test::golden_events_v1()
                : version == "2" ? tt::test::golden_events_v2()
                : version == "3" ? tt::test::golden_events_v3()
                : version == "4" ? tt::test::golden_events_v4()
                                 : tt::test::golden_events_v5();
  auto snapshots = version == "1"   ? tt::test::golden_snapshots_v1()
                   : version == "2" ? tt::test::golden_snapshots_v2()
                   : version == "3" ? tt::test::golden_snapshots_v3()
                   : version == "4" ? tt::test::golden_snapshots_v4()
                                    : tt::test::golden_snapshots_v5();
  for (const auto& [name, ev] : events) {
    std::ofstream(dir + "/" + name + ".bin", std::ios::binary) << tt::encode_event(ev);
    std::printf("wrote %s/%s.bin\n", dir.c_str(), name.c_str());
  }
  for (const auto& [name, s] : snapshots) {
    std::ofstream(dir + "/" + name + ".bin", std::ios::binary) << tt::encode_snapshot(s);
    std::printf("wrote %s/%s.bin\n", dir.c_str(), name.c_str());
  }
  return 0;
}
