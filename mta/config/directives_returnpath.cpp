// The return path's part of the directive tables: `relay-domain` (global) and the report
// processors, <bounce-processor> and <feedback-loop-processor>, each with one nested
// <address-list> saying which recipients' mail it reads (docs/config.md, "The return path").
//
// The processors take no argument and appear at most once each; the current one is told apart by
// ParseContext::index (0: bounce, 1: feedback loop), which the parser also gives a nested
// <address-list> (its parent's index).
//
// Thread-safety: immutable tables built at first use.
#include "mta/config/internal.hpp"
#include "mta/config/setters.hpp"

namespace outpost::config::detail {

namespace {

using I = Implementation;

constexpr std::size_t kBounce = 0;
constexpr std::size_t kFeedback = 1;

ReportProcessor& Processor(ParseContext& c) {
  return c.index == kBounce ? *c.config->bounce_processor : *c.config->feedback_loop_processor;
}

std::string DomainOf(const std::string& value) {
  std::string domain = Lower(Trim(value));
  if (domain.size() > 1 && domain.back() == '.') domain.pop_back();
  return domain;
}

template <bool ReportProcessor::*F>
Result SetProcessorBool(ParseContext& c, const std::string& v) {
  auto b = ParseBool(v);
  if (!b) return std::string();
  Processor(c).*F = *b;
  return std::nullopt;
}

Result SetListDomain(ParseContext& c, const std::string& v) {
  const std::string domain = DomainOf(v);
  if (!IsHostName(domain)) return std::string();
  Processor(c).address_list.domains.push_back(domain);
  return std::nullopt;
}

Result SetListAddress(ParseContext& c, const std::string& v) {
  const std::string address = Lower(Trim(v));
  const std::size_t at = address.rfind('@');
  if (at == std::string::npos || at == 0 || !IsToken(address) ||
      !IsHostName(address.substr(at + 1))) {
    return std::string();
  }
  Processor(c).address_list.addresses.push_back(address);
  return std::nullopt;
}

Result OpenProcessor(ParseContext& c, const std::string& arg, std::string* key,
                     std::optional<ReportProcessor>& slot, std::size_t index) {
  key->clear();
  if (!slot) {  // a second section is a duplicate (reported by the parser): keep the first's lines
    slot.emplace();
    slot->line = c.line;
  }
  c.index = index;
  if (!arg.empty()) return std::string("expected no argument");
  return std::nullopt;
}

constexpr const char* kExpAddress = "expected an address like bounces@bounce.example.com";
constexpr const char* kExpDomain = "expected a domain name like bounce.example.com";

const std::vector<DirectiveSpec> kProcessor = {
    {"deliver-matched-email", "deliver-matched-email BOOL", "no",
     "Also deliver a report that was understood (and recorded) to its recipient, as ordinary "
     "mail, instead of only recording it.",
     I::kDaemon, SetProcessorBool<&ReportProcessor::deliver_matched_email>, kExpBool},
    {"deliver-unmatched-email", "deliver-unmatched-email BOOL", "no",
     "Deliver mail to the address list that is not understood as a report to its recipient, as "
     "ordinary mail. With `no` it is kept in the spool directory's `returnpath-unmatched/` "
     "folder. Either way it is counted.",
     I::kDaemon, SetProcessorBool<&ReportProcessor::deliver_unmatched_email>, kExpBool},
};

const std::vector<DirectiveSpec> kAddressList = {
    {"domain", "domain DOMAIN", "none", "Every address at DOMAIN is this processor's. Repeatable.",
     I::kDaemon, SetListDomain, kExpDomain, true},
    {"address", "address ADDRESS", "none",
     "This one address (compared without regard to case) is this processor's. Repeatable.",
     I::kDaemon, SetListAddress, kExpAddress, true},
};

}  // namespace

// relay-domain DOMAIN | *.DOMAIN | [*.]DOMAIN (global).
Result SetRelayDomain(ParseContext& c, const std::string& v) {
  const std::string domain = DomainOf(v);
  const std::size_t wildcard = domain.rfind("[*.]", 0) == 0 ? 4
                               : domain.rfind("*.", 0) == 0 ? 2
                                                            : 0;
  if (!IsHostName(std::string_view(domain).substr(wildcard))) return std::string();
  c.config->relay_domains.push_back(domain);
  return std::nullopt;
}

Result OpenBounceProcessor(ParseContext& c, const std::string& arg, std::string* key) {
  return OpenProcessor(c, arg, key, c.config->bounce_processor, kBounce);
}

Result OpenFeedbackLoopProcessor(ParseContext& c, const std::string& arg, std::string* key) {
  return OpenProcessor(c, arg, key, c.config->feedback_loop_processor, kFeedback);
}

// <address-list>: nested in a processor; the parser gives it the parent's index.
Result OpenAddressList(ParseContext& c, const std::string& arg, std::string* key) {
  c.index = c.parent_index;  // its lines fill the processor it is in
  *key = c.index == kBounce ? "bounce-processor" : "feedback-loop-processor";
  if (!arg.empty()) return std::string("expected no argument");
  return std::nullopt;
}

const std::vector<DirectiveSpec>& ProcessorDirectives() { return kProcessor; }
const std::vector<DirectiveSpec>& AddressListDirectives() { return kAddressList; }

}  // namespace outpost::config::detail
