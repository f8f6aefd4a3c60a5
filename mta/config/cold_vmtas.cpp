// Cold/warm virtual MTA pairs (IP warm-up; docs/config.md, "Cold virtual MTAs"), resolved once the
// whole configuration is read: each warm virtual MTA's cold-virtual-mta must name another
// <virtual-mta>; auto-cold-virtual-mta defines one, NAME-cold, that shares the warm one's settings.
// max-cold-virtual-mta-msg where no warm virtual MTA can use it gets a notice (it has no effect).
//
// Thread-safety: works on one ParseContext, on the parsing thread.
#include <algorithm>

#include "mta/config/internal.hpp"

namespace outpost::config {

namespace {

std::string AutoColdName(const std::string& warm) { return warm + "-cold"; }

// Checks (and for auto-cold-virtual-mta, defines) the cold virtual MTA of virtual_mtas[i].
void ResolveOne(ParseContext& ctx, const SectionOrigins& origins, const std::string& main_file,
                std::size_t i) {
  Config& c = *ctx.config;
  auto it = origins.find({Scope::kVirtualMta, i});
  const auto [file, line] = it == origins.end() ? std::make_pair(main_file, 0) : it->second;
  const VirtualMta warm = c.virtual_mtas[i];  // a copy: the vector may grow below
  const std::string where = "<virtual-mta " + warm.name + ">: ";
  if (warm.auto_cold) {
    if (!warm.cold_virtual_mta.empty()) {
      ctx.ErrorAt(file, line,
                  where +
                      "has both cold-virtual-mta and auto-cold-virtual-mta; it can have one "
                      "cold virtual MTA");
      return;
    }
    const std::string name = AutoColdName(warm.name);
    if (c.FindVirtualMta(name) != nullptr || c.FindVirtualMtaPool(name) != nullptr) {
      ctx.ErrorAt(file, line,
                  where + "auto-cold-virtual-mta defines <virtual-mta " + name +
                      ">, but that name is already defined");
      return;
    }
    VirtualMta cold;
    cold.name = name;
    cold.source_hosts = {*warm.auto_cold};
    cold.max_smtp_out = warm.max_smtp_out;
    cold.domain_keys = warm.domain_keys;
    cold.auto_cold_of = warm.name;
    c.virtual_mtas[i].cold_virtual_mta = name;
    c.virtual_mtas.push_back(std::move(cold));
    return;
  }
  if (warm.cold_virtual_mta.empty()) return;
  const std::string& name = warm.cold_virtual_mta;
  if (name == warm.name) {
    ctx.ErrorAt(file, line, where + "'cold-virtual-mta " + name + "' names itself");
  } else if (c.FindVirtualMta(name) == nullptr) {
    ctx.ErrorAt(file, line,
                where + "'cold-virtual-mta " + name + "': no <virtual-mta " + name +
                    "> is defined" +
                    (c.FindVirtualMtaPool(name) != nullptr ? " (it is a pool; a cold virtual "
                                                             "MTA is one <virtual-mta>)"
                                                           : ""));
  }
}

bool HasCold(const Config& c, const std::string& vmta) {
  const VirtualMta* v = c.FindVirtualMta(vmta);
  return v != nullptr && !v->cold_virtual_mta.empty();
}

// Can any warm virtual MTA read this section's max-cold-virtual-mta-msg?
bool ColdLimitUsable(const Config& c, const DomainPolicy& d) {
  if (!d.virtual_mta.empty()) return HasCold(c, d.virtual_mta);
  if (!d.virtual_mta_pool.empty()) {
    const VirtualMtaPool* pool = c.FindVirtualMtaPool(d.virtual_mta_pool);
    return pool != nullptr && std::any_of(pool->members.begin(), pool->members.end(),
                                          [&](const std::string& m) { return HasCold(c, m); });
  }
  return std::any_of(c.virtual_mtas.begin(), c.virtual_mtas.end(),
                     [](const VirtualMta& v) { return !v.cold_virtual_mta.empty(); });
}

}  // namespace

void ResolveColdVirtualMtas(ParseContext& ctx, const SectionOrigins& origins,
                            const std::string& main_file) {
  Config& c = *ctx.config;
  const std::size_t defined = c.virtual_mtas.size();
  for (std::size_t i = 0; i < defined; ++i) ResolveOne(ctx, origins, main_file, i);
  for (std::size_t i = 0; i < c.domains.size(); ++i) {
    const DomainPolicy& d = c.domains[i];
    if (!d.max_cold_virtual_mta_msg || ColdLimitUsable(c, d)) continue;
    auto it = origins.find({Scope::kDomain, i});
    const std::string file = it == origins.end() ? main_file : it->second.first;
    const std::string owner = !d.virtual_mta.empty() ? "<virtual-mta " + d.virtual_mta + ">"
                              : !d.virtual_mta_pool.empty()
                                  ? "no member of <virtual-mta-pool " + d.virtual_mta_pool + ">"
                                  : "no <virtual-mta>";
    ctx.NoticeAt(file, d.max_cold_virtual_mta_msg_line,
                 "'max-cold-virtual-mta-msg' has no effect: " + owner +
                     " has no cold-virtual-mta or auto-cold-virtual-mta");
  }
}

}  // namespace outpost::config
