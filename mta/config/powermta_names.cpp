// The names PowerMTA's configuration language knows (directives and section tags, from the
// directive index of the PowerMTA v5.0 User's Guide, listed here by name only) that Outpost does
// not implement. The parser consults this table only for names its own tables lack, so that a
// real PowerMTA directive gets an honest "not supported by Outpost" message instead of a "did you
// mean" pointing at a different directive, and so that scope advice ("it belongs in <domain>") is
// not given where PowerMTA uses the same name in this scope with another meaning.
//
// docs/config.md ("PowerMTA directives Outpost does not implement") lists the same names with the
// reason; tests/unit/config/docs_test.cpp checks that every name here is listed there.
//
// Thread-safety: immutable tables.
#include <algorithm>

#include "mta/config/internal.hpp"

namespace outpost::config {

namespace {

constexpr unsigned G = kPmtaGlobal;
constexpr unsigned S = kPmtaSource;
constexpr unsigned D = kPmtaDomain;
[[maybe_unused]] constexpr unsigned V = kPmtaVirtualMta;
constexpr unsigned U = kPmtaSmtpUser;
[[maybe_unused]] constexpr unsigned A = kPmtaAcctFile;  // no unsupported <acct-file> name left
constexpr unsigned P = kPmtaSpool;

constexpr const char* kVendorCloud =
    "a vendor-cloud integration (the vendor's event upload service) with no meaning for Outpost";

constexpr const char* kNoChunking =
    "Outpost never sends with CHUNKING (BDAT), so 'yes' is what it always does; the directive is "
    "refused so that 'no' is not silently ignored";

constexpr const char* kFileType =
    "it belongs to 'type file', which Outpost does not support ('type smtp' and 'type discard' "
    "are)";

// Grouped by scope within each group only for reading; lookup is linear (start-up only).
const std::vector<PowerMtaName> kDirectives = {
    // Global.
    {"relay-address", G, nullptr},
    {"smtp-server-tls-ciphers", G, nullptr},
    {"dummy-smtp-port", G, nullptr},
    {"dummy-smtp-blackhole", G, nullptr},
    {"enable-signals", G, kVendorCloud},
    {"smtp-service-threads", G,
     "outpostd serves every SMTP connection, in and out, on one event loop (no thread per "
     "connection), so there is no SMTP thread count to set yet; the CPU-heavy per-message work "
     "runs on the pool that queue-processing-threads sizes"},
    // <source>.
    {"date-header-time", S, nullptr},
    {"process-x-dkim-options", S, nullptr},
    {"always-allow-api-submission", S, nullptr},
    {"rewrite-list", S, nullptr},
    {"suppress-local-dsn", S, nullptr},
    // <smtp-user>.
    {"authentication-method", U, nullptr},
    // <domain>.
    {"bounce-upon-pix-transfer-failure", D, nullptr},
    {"replace-smtp-421-service-response", D, nullptr},
    {"ignore-chunking", D, kNoChunking},
    {"ignore-pipelining", D, nullptr},
    {"ignore-dsn", D, nullptr},
    {"file-format", D, kFileType},
    {"file-destination", D, kFileType},
    {"queue-to", D, nullptr},
    {"reroute-to-virtual-mta", D, nullptr},
    {"backoff-reroute-to-virtual-mta", D, nullptr},
    {"backoff-notify", D, nullptr},
    {"backoff-upon-all-sources-disabled", D, nullptr},
    {"reenable-source-ip-after", D, nullptr},
    {"disabled-source-ip-notify", D, nullptr},
    {"use-unencrypted-plain-auth", D, nullptr},
    {"auth-username", D, nullptr},
    {"auth-password", D, nullptr},
    {"dkim-headers", D, nullptr},
    {"dkim-add-timestamp", D, nullptr},
    {"dkim-expire-after", D, nullptr},
    {"dkim-add-body-limit", D, nullptr},
    {"dkim-query-method", D, nullptr},
    {"dkim-identity-fallback", D, nullptr},
    {"dkim-disallow-adding-headers", D, nullptr},
    {"second-dkim-sign", D, nullptr},
    {"second-dkim-identity", D, nullptr},
    {"max-events-recorded", D, nullptr},
    {"track-recipient-events", D, nullptr},
    {"check-spf-outbound", D, nullptr},
    {"dsn-format", D, nullptr},
    {"log-resolution", D, nullptr},
    {"log-transfer-failures", D, nullptr},
    {"log-disabled-ips", D, nullptr},
    {"disable-acct-records", D, nullptr},
    {"bcc-upon-delivery", D, nullptr},
    {"allow-priority-interruption", D, nullptr},
    {"allow-priority-interruption-during-transfer", D, nullptr},
    {"allow-cancel-during-transfer", D, nullptr},
    {"notify-of-delay-every", D, nullptr},
    {"max-data-volume-rate", D, nullptr},
    {"backoff-max-data-volume-rate", D, nullptr},
    {"retry-recipients-after", D, nullptr},
    {"retry-after-dns-error", D, nullptr},
    {"smtp-out-rampup-interval", D, nullptr},
    {"source-ip-max-connect-rate", D, nullptr},
    {"source-ip-max-data-volume-rate", D, nullptr},
    {"connection-idle-timeout", D, nullptr},
    // <acct-file>.
    // <spool>.
    {"delete-file-holders", P, nullptr},
};

const std::vector<PowerMtaName> kSections = {
    {"mx-rollup-list", 0, nullptr},
    {"rewrite-list", 0, nullptr},
    {"signals", 0, kVendorCloud},
};

const PowerMtaName* Find(const std::vector<PowerMtaName>& table, const std::string& name) {
  auto it = std::find_if(table.begin(), table.end(),
                         [&](const PowerMtaName& n) { return name == n.name; });
  return it == table.end() ? nullptr : &*it;
}

}  // namespace

const std::vector<PowerMtaName>& PowerMtaDirectives() { return kDirectives; }
const std::vector<PowerMtaName>& PowerMtaSections() { return kSections; }

const PowerMtaName* FindPowerMtaDirective(const std::string& lower_name) {
  return Find(kDirectives, lower_name);
}

const PowerMtaName* FindPowerMtaSection(const std::string& lower_tag) {
  return Find(kSections, lower_tag);
}

unsigned PowerMtaScopeBit(Scope scope) {
  switch (scope) {
    case Scope::kGlobal:
      return kPmtaGlobal;
    case Scope::kSource:
      return kPmtaSource;
    case Scope::kDomain:
      return kPmtaDomain;
    case Scope::kVirtualMta:
      return kPmtaVirtualMta;
    case Scope::kSmtpUser:
      return kPmtaSmtpUser;
    case Scope::kAcctFile:
      return kPmtaAcctFile;
    case Scope::kSpool:
      return kPmtaSpool;
    default:
      return 0;
  }
}

}  // namespace outpost::config
