#include "messages/system.hpp"

#include "messages/cluster_regions.hpp"
#include "messages/errc.hpp"
#include "messages/type_ids.hpp"

namespace tt {

void init_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::tt>();
  cfg.add_error_category(errc_category, render_errc);
}

} // namespace tt
