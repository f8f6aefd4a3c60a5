#include "mta/mgmt/access.hpp"

namespace outpost::mgmt {

config::AccessLevel AccessFor(const config::Config& config, std::string_view peer) {
  // An IPv4 client of a dual-stack socket shows as ::ffff:a.b.c.d: judge it as IPv4, so that the
  // default (127.0.0.1 monitor) and IPv4 rules apply to it.
  constexpr std::string_view kMapped = "::ffff:";
  if (peer.size() > kMapped.size() && peer.substr(0, kMapped.size()) == kMapped &&
      peer.find('.') != std::string_view::npos) {
    peer.remove_prefix(kMapped.size());
  }
  auto address = IpAddress::Parse(peer);
  if (!address) return config::AccessLevel::kNone;
  return config.HttpAccessFor(*address);
}

bool Permits(config::AccessLevel level, Need need) {
  switch (level) {
    case config::AccessLevel::kAdmin:
      return true;
    case config::AccessLevel::kMonitor:
      return need == Need::kMonitor;
    case config::AccessLevel::kSubmit:
      return need == Need::kSubmit;
    case config::AccessLevel::kNone:
      return false;
  }
  return false;
}

const char* AccessLevelName(config::AccessLevel level) {
  switch (level) {
    case config::AccessLevel::kAdmin:
      return "admin";
    case config::AccessLevel::kMonitor:
      return "monitor";
    case config::AccessLevel::kSubmit:
      return "submit";
    case config::AccessLevel::kNone:
      return "none";
  }
  return "none";
}

}  // namespace outpost::mgmt
