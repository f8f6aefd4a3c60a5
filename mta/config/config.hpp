// outpostd's configuration: PowerMTA's language (docs/powermta.md, "The configuration language").
//
// A file is `name value` lines (global directives) and `<tag arg> ... </tag>` sections; `#` starts
// a comment. Parsing never stops at the first error: LoadConfig() returns every error found, each
// naming file and line, and a Config is only usable when there are none. Unknown directives, bad
// values, unbalanced or unknown sections and duplicates (a directive twice in one scope, two
// sections with the same name) are errors.
//
// Units: durations `30s`, `10m`, `1h`, `4d12h` (a bare number is seconds); rates `N/s|m|h|d` or
// `N/Ms` (e.g. `800/h`, `2/s`, `100/10m`) or `unlimited`; sizes `512`, `100K`, `100M`, `1G`
// (powers of 1024); booleans yes/no/true/false/on/off.
//
// `include FILE|GLOB` (anywhere, sections included) reads other files in place, relative to the
// including file's directory; a UTF-8 byte-order mark and CRLF line ends are accepted; a directive
// whose value ends with a comma continues on the next line.
//
// Every directive is listed in docs/config.md with its syntax, default and meaning, including those
// that later parts of the daemon implement (marked there).
//
// Thread-safety: a Config is an immutable value once loaded; share it as shared_ptr<const Config>.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/cidr.hpp"

namespace outpost::config {

using Seconds = std::chrono::seconds;

struct ConfigError {
  std::string file;
  int line = 0;  // 0 when the error concerns the whole file (e.g. cannot open)
  std::string message;
  std::string ToString() const;  // "file:line: message"
};

// A rate limit: `count` events per `per`. Unlimited when count == 0.
struct Rate {
  std::uint64_t count = 0;
  Seconds per{1};
  bool unlimited() const { return count == 0; }
  bool operator==(const Rate&) const = default;
};

struct ListenAddress {
  std::string host;  // "127.0.0.1", "::1", "0.0.0.0" (from "0/0")
  std::uint16_t port = 0;
  bool implicit_tls = false;  // smtp-listener ... tls=yes: TLS from the first byte (RFC 8314)
};

// One entry of a <domain>'s smtp-hosts (or its `route DOMAIN`): a host to connect to instead of
// the domain's MX hosts, or another domain whose MX hosts to use.
struct SmtpHost {
  std::string host;                   // "192.0.2.1" (written [192.0.2.1]), a host name, or a domain
  std::optional<std::uint16_t> port;  // absent: default-smtp-port
  bool lookup_mx = false;             // lookup-mx:DOMAIN, or route DOMAIN: that domain's MX hosts
  bool operator==(const SmtpHost&) const = default;
};

// kSubmit: HTTP submission only (POST /api/v1/transmissions, with an API key); admin may too.
enum class AccessLevel { kNone, kMonitor, kAdmin, kSubmit };

inline constexpr std::size_t kMinApiKeyLength = 16;

// One key of an http-api-key-file: who submits (logs, Received:, accounting) and the secret.
struct ApiKey {
  std::string name;
  std::string key;
};

struct HttpAccessRule {
  Cidr cidr;
  AccessLevel level = AccessLevel::kNone;
};

struct DomainKey {
  std::string selector;
  std::string domain;
  std::string key_file;
  std::string file;  // where the directive was (for errors found later, e.g. unreadable key)
  int line = 0;
};

// <source ADDR/CIDR> or <source {name}>: rules for injecting clients. Unset fields inherit from
// less specific matching sources and finally from the built-in defaults shown here.
struct SourcePolicy {
  std::optional<Cidr> cidr;  // set for address sources
  std::string name;          // set for named sources, e.g. "{auth}" for authenticated users
  std::optional<bool> always_allow_relaying;      // default false
  std::optional<bool> smtp_service;               // default true: may this client talk SMTP at all
  std::optional<bool> require_auth;               // default false
  std::optional<std::uint64_t> max_message_size;  // bytes; default 0 = global max-message-size
  std::optional<bool> process_x_virtual_mta;      // default false
  std::optional<bool> process_x_job;              // default false
  std::optional<std::string> default_virtual_mta;
  std::optional<bool> log_connections;           // default false (connections logged at debug)
  std::optional<bool> hide_message_source;       // default false: omit client IP from Received:
  std::optional<bool> normalize_bare_line_ends;  // bare-line-end; default false (reject)
  std::optional<bool> log_commands;              // default false
  std::optional<bool> add_received_header;       // default true
  std::optional<bool> remove_received_headers;   // default false
  std::optional<bool> add_message_id_header;     // default true
  std::optional<bool> add_date_header;           // default false
  std::vector<std::string> remove_headers;       // lower-case field names; lists add up
  std::optional<std::string> pattern_list;       // <pattern-list NAME> routing this source's mail
  std::optional<std::string> jobid_header;       // lower-case; default "x-job"
  std::optional<bool> retain_x_job;              // default false
  std::optional<bool> retain_x_virtual_mta;      // default false
  std::optional<bool> process_x_envid;           // default false
  std::optional<bool> verp_default;              // default false
  std::optional<bool> log_data;                  // default false
  std::optional<bool> allow_starttls;            // default true
  std::optional<bool> require_starttls_before_auth;  // default false
  std::optional<bool> allow_unencrypted_plain_auth;  // default false
  std::optional<Rate> smtp_max_auth_failure_rate;    // default: the global max-auth-failures-per-ip
};

// The effective (merged) policy for one client, with defaults filled in.
struct EffectiveSourcePolicy {
  bool always_allow_relaying = false;
  bool smtp_service = true;
  bool require_auth = false;
  std::uint64_t max_message_size = 0;  // 0: use the global limit
  bool process_x_virtual_mta = false;
  bool process_x_job = false;
  std::string default_virtual_mta;
  bool log_connections = false;
  bool hide_message_source = false;
  bool normalize_bare_line_ends = false;  // bare-line-end normalize (default reject)
  bool log_commands = false;
  bool add_received_header = true;
  bool remove_received_headers = false;
  bool add_message_id_header = true;
  bool add_date_header = false;
  std::vector<std::string> remove_headers;  // every matching source's list, added up
  std::string pattern_list;                 // "" = none
  std::string jobid_header = "x-job";       // the header the job id comes from (process-x-job)
  bool retain_x_job = false;
  bool retain_x_virtual_mta = false;
  bool process_x_envid = false;
  bool verp_default = false;  // envelope sender VERP-encoded per recipient unless MAIL FROM asks
  bool log_data = false;
  bool allow_starttls = true;
  bool require_starttls_before_auth = false;
  bool allow_unencrypted_plain_auth = false;
  std::optional<Rate> smtp_max_auth_failure_rate;  // unset: max-auth-failures-per-ip per window
  // AUTH PLAIN/LOGIN may be used before STARTTLS.
  bool AuthInClear() const { return allow_unencrypted_plain_auth && !require_starttls_before_auth; }
};

// <smtp-user NAME>: an AUTH identity, bound to a named source.
struct SmtpUser {
  std::string name;
  std::string password;  // plain text in the config, as PowerMTA
  std::string source;    // e.g. "{auth}"; its <source {auth}> rules apply after AUTH
};

struct SourceHost {
  std::string address;    // local address to bind, e.g. "127.0.0.2"
  std::string host_name;  // EHLO name
};

// <virtual-mta NAME>
struct VirtualMta {
  std::string name;
  std::vector<SourceHost> source_hosts;  // smtp-source-host ADDR NAME (one or more)
  int max_smtp_out = 0;                  // max-smtp-out N: its connections, all domains (0: none)
  std::vector<DomainKey> domain_keys;    // its own DKIM keys, before the global domain-key ones
  // IP warm-up (docs/config.md, "Cold virtual MTAs"): cold-virtual-mta NAME, or the name of the
  // one auto-cold-virtual-mta defines ("" = none). Part of this (warm) virtual MTA's mail goes
  // through it, up to max-cold-virtual-mta-msg per destination and day.
  std::string cold_virtual_mta;
  std::optional<SourceHost> auto_cold;  // auto-cold-virtual-mta ADDR HOSTNAME, as written
  // Set on a virtual MTA that auto-cold-virtual-mta made: the warm one whose settings
  // (max-smtp-out, domain-key, nested <domain> sections) it shares.
  std::string auto_cold_of;
};

// <virtual-mta-pool NAME>
struct VirtualMtaPool {
  std::string name;
  std::vector<std::string> members;  // virtual-mta NAME lines
};

enum class PatternMode { kNone, kBackoff, kNormal };

struct SmtpPattern {
  std::string regex;   // ECMAScript syntax, from /.../ ; matched against the full reply text
  bool icase = false;  // /.../i
  PatternMode mode = PatternMode::kNone;
  int line = 0;
};

// <smtp-pattern-list NAME>
struct SmtpPatternList {
  std::string name;
  std::vector<SmtpPattern> patterns;
};

// A line of a <pattern-list>: `mail-from|rcpt-to|header NAME /regex/[i] virtual-mta=NAME`.
struct RoutePattern {
  enum class Subject { kMailFrom, kRcptTo, kHeader } subject = Subject::kMailFrom;
  std::string header;  // lower-case field name, for kHeader
  std::string regex;   // ECMAScript, searched for anywhere in the value (no implied anchors)
  bool icase = false;
  std::string virtual_mta;  // the <virtual-mta> or <virtual-mta-pool> it routes to
  int line = 0;
};

// <pattern-list NAME>: routes a source's mail to a virtual MTA by sender, recipient or header.
struct PatternList {
  std::string name;
  std::vector<RoutePattern> patterns;  // in file order; the first that matches decides
};

// <bounce-category-patterns>: `/regex/ category` lines, tried before the default rules.
struct BounceCategoryPattern {
  std::string regex;
  bool icase = false;
  std::string category;
};

// <domain NAME>, <domain *>, <domain $macro>: per-destination delivery policy. Unset fields fall
// back to <domain *> and then to the built-in defaults (PowerMTA's, see docs/config.md). A section
// nested in <virtual-mta NAME> or <virtual-mta-pool NAME> names its owner and applies only to mail
// through that virtual MTA (or the pool's members); queue::MergeDomainPolicy gives the order.
struct DomainPolicy {
  std::string match;               // the header's names as written, lower-case: "gmail.com", "*",
                                   // "$hotmail", "outlook.com hotmail.com", "[*.]example.com"
  std::vector<std::string> names;  // each of them (DomainNameMatch() below)
  std::string virtual_mta;         // owner <virtual-mta>, "" when not nested in one
  std::string virtual_mta_pool;    // owner <virtual-mta-pool>, "" when not nested in one
  std::optional<int> max_smtp_out;
  std::optional<Rate> max_connect_rate;
  std::optional<Rate> max_msg_rate;
  std::optional<int> max_msg_per_connection;
  std::optional<int> max_rcpt_per_transaction;
  std::optional<std::vector<Seconds>> retry_after;
  std::optional<Seconds> bounce_after;
  std::optional<std::string> smtp_pattern_list;
  std::optional<int> backoff_max_smtp_out;
  std::optional<Rate> backoff_max_connect_rate;
  std::optional<Rate> backoff_max_msg_rate;
  std::optional<int> backoff_max_msg_per_connection;
  std::optional<std::vector<Seconds>> backoff_retry_after;
  std::optional<Seconds> backoff_to_normal_after;  // absent: never
  std::optional<bool> backoff_to_normal_after_delivery;
  std::optional<int> source_ip_max_smtp_out;
  std::optional<Rate> source_ip_max_msg_rate;
  std::optional<std::string> mx_rollup;
  std::optional<bool> dkim_sign;
  std::optional<bool> dk_sign;                    // DomainKeys (RFC 4870) beside or instead of DKIM
  std::optional<std::string> dkim_algorithm;      // rsa-sha256 | ed25519-sha256
  std::optional<std::string> dkim_headers_canon;  // relaxed | simple
  std::optional<std::string> dkim_body_canon;     // relaxed | simple
  std::optional<std::string> dkim_identity;
  std::optional<ListenAddress> route;  // [ADDR]:PORT
  std::optional<std::uint16_t> default_smtp_port;
  std::optional<bool> use_starttls;
  std::optional<bool> require_starttls;
  // Outbound SMTP client deadlines (delivery::ClientTimeouts), 1s to 1d each.
  std::optional<Seconds> connect_timeout;                // connect-timeout
  std::optional<Seconds> smtp_greeting_timeout;          // smtp-greeting-timeout
  std::optional<Seconds> smtp_command_timeout;           // smtp-command-timeout
  std::optional<Seconds> data_send_timeout;              // data-send-timeout
  std::optional<Seconds> smtp_data_termination_timeout;  // smtp-data-termination-timeout
  std::optional<int> queue_priority;                     // 0..100
  // What some replies and failures mean (docs/config.md, "Outcomes").
  std::optional<int> max_errors_per_connection;  // 0: unlimited
  std::optional<bool> bounce_upon_no_mx;
  std::optional<bool> bounce_upon_5xx_greeting;
  std::optional<bool> smtp_421_means_mx_unavailable;
  std::optional<bool> smtp_553_means_invalid_mailbox;
  std::optional<bool> bounce_upon_transfer_failure;
  std::optional<bool> assume_delivery_upon_data_termination_timeout;
  // deliver-local-dsn: DSNs outpostd makes, addressed to this domain, are sent (default yes).
  std::optional<bool> deliver_local_dsn;
  // How to deliver (docs/config.md, "Transport").
  std::optional<std::vector<SmtpHost>> smtp_hosts;  // smtp-hosts, or route DOMAIN
  std::optional<int> mx_connection_attempts;        // 0: every address
  std::optional<bool> ignore_8bitmime;
  std::optional<std::string> delivery_type;  // type: smtp | discard
  // max-cold-virtual-mta-msg N/day: recipients per UTC day that a warm virtual MTA's mail to this
  // destination may send through its cold virtual MTA.
  std::optional<std::uint64_t> max_cold_virtual_mta_msg;
  int max_cold_virtual_mta_msg_line = 0;  // its line, for the notice when nothing reads it
  int line = 0;
};

// record-fields TYPE FIELD,FIELD,... (or *): the columns records of TYPE fill in one file.
struct RecordFields {
  std::string type;                 // "d", "b", ...
  std::vector<std::string> fields;  // column names as in the header; empty = * (all columns)
  int line = 0;
};

// <acct-file PATH>
struct AcctFile {
  std::string path;
  std::vector<std::string> records;  // e.g. {"d","b","t","tq","r"}; empty = all
  std::vector<RecordFields> record_fields;
  std::optional<Seconds> move_interval;
  std::optional<std::uint64_t> max_size;
  std::optional<Seconds> delete_after;
  std::optional<std::string> move_to;  // directory for rotated files; default: beside the file
  // <acct-file |PROGRAM>: the program fed the CSV stream. `path` then names the on-disk buffer the
  // program is fed from (SPOOL/acct-feed/pipe-HASH.csv, rotated and deleted once fed).
  std::string pipe_program;
  // The accounting webhook: records of this file POSTed as JSON arrays (docs/config.md).
  std::string webhook_url;                         // webhook-url URL; empty = none
  Seconds webhook_batch_interval{1};               // webhook-batch-interval DURATION
  std::uint64_t webhook_batch_size = 1024 * 1024;  // webhook-batch-size SIZE
  Seconds webhook_max_backoff{60};                 // webhook-max-backoff DURATION
  Seconds webhook_timeout{30};                     // webhook-timeout DURATION
  std::string webhook_ca_file;  // webhook-ca-file PATH: https:// trusts it; "" = the system's CAs
  int line = 0;
};

// <address-list> inside a report processor: the recipients whose mail it takes.
struct AddressList {
  std::vector<std::string> domains;    // domain D (lower-case): every address at D
  std::vector<std::string> addresses;  // address A (lower-case): that address only
  bool Matches(const std::string& lower_recipient) const;
};

// <bounce-processor> or <feedback-loop-processor>: mail to its address list is read as a report
// (a delivery-status report, or a feedback-loop complaint) instead of being delivered.
struct ReportProcessor {
  AddressList address_list;
  bool deliver_matched_email = false;    // also deliver a report that was understood
  bool deliver_unmatched_email = false;  // deliver (instead of keep) one that was not
  int line = 0;
};

// <acct-file |PROGRAM>'s on-disk buffer: SPOOL/acct-feed/pipe-HASH.csv (HASH: FNV-1a of the
// program path, in hex), rotated at kAcctPipeBufferRotateSize beside itself.
std::string AcctPipeBufferPath(const std::string& spool_dir, const std::string& program);
// 16 hex digits naming `text` in file names (FNV-1a, stable across runs).
std::string AcctFeedKey(const std::string& text);
inline constexpr std::uint64_t kAcctPipeBufferRotateSize = 16u << 20;
// <alert-action NAME> (docs/config.md, "Alert-driven actions"; mta/mgmt/alert_actions.hpp): what
// outpostd does when Alertmanager reports a firing alert whose labels match.
enum class AlertVerb {
  kPauseQueue,
  kResumeQueue,
  kBackoffQueue,
  kPauseVmta,
  kResumeVmta,
  kPauseJob,
  kResumeJob,
  kReroute,
};
const char* AlertVerbName(AlertVerb verb);  // "pause-queue", ... as the `action` line writes it
struct AlertAction {
  std::string name;                                        // lower-case
  std::vector<std::pair<std::string, std::string>> match;  // label=value; every one must hold
  std::optional<AlertVerb> verb;                           // `action VERB TARGET [POOL]`
  std::string target;  // queue, virtual MTA, job, or (reroute) a provider or domain list
  std::string pool;    // reroute: the <virtual-mta-pool> (or virtual MTA) the mail goes through
  bool undo_on_resolve = true;
  std::optional<Seconds> duration;  // `for`: undone this long after it was taken
  int line = 0;
};

struct Config {
  std::vector<std::string> files;  // the file and its includes, for messages

  // Global directives.
  std::vector<ListenAddress> smtp_listeners;  // smtp-listener ADDR:PORT (repeatable)
  std::string spool_dir;                      // spool DIR (required)
  std::optional<ListenAddress> http_mgmt;     // http-mgmt-port [ADDR:]PORT
  std::vector<HttpAccessRule> http_access;    // http-access CIDR LEVEL (repeatable)
  std::vector<ApiKey> http_api_keys;          // read from http-api-key-file PATH (repeatable)
  std::uint64_t http_submit_max_size = 0;     // http-submit-max-size SIZE; 0: max-message-size
  Rate http_submit_rate;                      // http-submit-rate RATE per key; default unlimited
  std::vector<DomainKey> domain_keys;         // domain-key SELECTOR,DOMAIN,KEYFILE (repeatable)
  std::map<std::string, std::vector<std::string>> domain_macros;  // domain-macro NAME d1,d2
  std::string host_name;           // host-name NAME; default: gethostname()
  std::string log_file;            // log-file PATH; empty = stderr
  std::string log_level = "info";  // log-level debug|info|warning|error
  bool run_as_root = false;        // run-as-root BOOL: keep root after start-up
  std::string postmaster;          // postmaster ADDRESS: DSNs' From:; "" = MAILER-DAEMON@host-name
  std::optional<ListenAddress> dns_server;       // dns-server ADDR:PORT
  std::uint64_t dns_cache_size = 100000;         // dns-cache-size N (entries)
  Seconds dns_cache_ttl{3600};                   // dns-cache-ttl DURATION (TTL cap)
  int max_smtp_in = 1000;                        // max-smtp-in N (all clients)
  int max_smtp_in_per_ip = 100;                  // max-smtp-in-per-ip N
  int total_max_smtp_out = 0;                    // total-max-smtp-out N (0: no limit)
  std::uint64_t max_message_size = 50ull << 20;  // max-message-size SIZE (global default)
  int max_rcpt_per_message = 1000;               // max-rcpt-per-message N (RCPT beyond: 452 4.5.3)
  std::string smtp_server_tls_certificate;       // PEM file
  std::string smtp_server_tls_private_key;       // PEM file; default: the certificate file
  Seconds smtp_in_command_timeout{300};          // smtp-in-command-timeout
  Seconds smtp_in_data_timeout{600};             // smtp-in-data-timeout (whole DATA phase)
  int smtp_in_max_errors = 10;                   // smtp-in-max-errors: then 421 and close
  Seconds smtp_in_auth_failure_delay{2};         // smtp-in-auth-failure-delay: before each 535
  int max_auth_failures_per_ip = 10;             // max-auth-failures-per-ip N (0: no cap)
  Seconds auth_failure_window{600};              // auth-failure-window DURATION
  std::uint64_t spool_min_free = 64ull << 20;    // spool-min-free SIZE: below it, 452 4.3.1
  std::uint64_t max_queued_recipients = 0;       // max-queued-recipients N (0: no limit)
  bool sync_msg_create = true;                   // sync-msg-create: new mail synced before 250
  std::uint64_t queue_cache_size = 0;            // queue-cache-size N (in-memory set; 0: auto)
  Seconds queue_stall_warning_after{1800};       // queue-stall-warning-after (0: no watchdog)
  // queue-processing-threads N (alias workers): threads of the pool that signs messages off the
  // event loop (mta/delivery/work_pool.hpp); 0: the machine's core count. Read at start.
  int queue_processing_threads = 0;

  // Spool segments and compaction: spool-segment-size SIZE, spool-compaction-threshold PERCENT
  // (kept as a fraction; 0 = off, at most 0.9), spool-compaction-rate SIZE per second (0 = no
  // limit).
  std::uint64_t spool_segment_size = 64ull << 20;
  double spool_compaction_threshold = 0.5;
  std::uint64_t spool_compaction_rate = 16ull << 20;
  Seconds spool_compaction_min_age{30};

  std::vector<SourcePolicy> sources;
  std::vector<SmtpUser> smtp_users;
  std::vector<VirtualMta> virtual_mtas;
  std::vector<VirtualMtaPool> virtual_mta_pools;
  std::vector<DomainPolicy> domains;
  std::vector<SmtpPatternList> smtp_pattern_lists;
  std::vector<PatternList> pattern_lists;
  std::vector<BounceCategoryPattern> bounce_category_patterns;
  std::vector<AcctFile> acct_files;
  std::vector<AlertAction> alert_actions;
  std::string alert_action_token_file;  // the bearer token of POST /api/alerts ("" = off)

  // The return path (docs/config.md, "The return path"): relay-domain D (repeatable) accepts
  // mail for D from any client; the processors read reports sent to their address lists.
  std::vector<std::string> relay_domains;  // lower-case
  // pickup DIR BADDIR (repeatable): files dropped into `dir` are injected (smtp/pickup_dir.hpp),
  // unusable ones moved to `bad_dir`. Both absolute; read at start (a reload keeps the old ones).
  struct Pickup {
    std::string dir;
    std::string bad_dir;
  };
  std::vector<Pickup> pickups;
  std::optional<ReportProcessor> bounce_processor;
  std::optional<ReportProcessor> feedback_loop_processor;
  // The suppression list (Outpost-only; docs/powermta.md): suppression-list yes turns it on;
  // complaints and hard bounces are added automatically, entries expire per kind (0: never).
  bool suppression_list = false;
  std::uint64_t suppression_max_entries = 5'000'000;
  Seconds suppression_complaint_expire{0};
  Seconds suppression_hard_bounce_expire{90 * 24 * 3600};
  Seconds suppression_manual_expire{0};

  // The effective <source> rules for a client address: matching address sources merged from least
  // to most specific (most specific wins per field), over the built-in defaults.
  EffectiveSourcePolicy SourcePolicyFor(const IpAddress& client) const;
  // The effective rules of a named source (e.g. "{auth}") layered over `base`.
  EffectiveSourcePolicy NamedSourcePolicy(const std::string& name,
                                          EffectiveSourcePolicy base) const;
  const SmtpUser* FindSmtpUser(const std::string& name) const;
  // Is `domain` (any case) one of the relay-domain lines (a name or a wildcard form)?
  bool IsRelayDomain(std::string_view domain) const;
  const VirtualMta* FindVirtualMta(const std::string& name) const;
  const VirtualMtaPool* FindVirtualMtaPool(const std::string& name) const;
  const PatternList* FindPatternList(const std::string& name) const;
  // The global <domain> that applies to `domain`: exact, then macro membership, then wildcard
  // (longest suffix first), then `*` (may be null). Sections nested in a virtual MTA or pool are
  // not global and never returned.
  const DomainPolicy* FindDomainPolicy(const std::string& domain) const;
  // How closely section `d` matches `domain` (lower-case, no trailing dot), the closest of its
  // names: 0 a name equal to it, 1 through a $macro, 2..257 a wildcard (a longer suffix is
  // closer), 300 `*`; -1 when no name matches.
  int DomainMatchRank(const DomainPolicy& d, const std::string& domain) const;
  // The level http-access grants `client` (most specific rule wins). With no http-access lines
  // at all, 127.0.0.1 and ::1 are monitor and everyone else none.
  AccessLevel HttpAccessFor(const IpAddress& client) const;
};

// Wildcard domain names (in <domain> headers and relay-domain): `*.example.com` matches every
// subdomain of example.com, `[*.]example.com` example.com itself too. Returns the length of the
// suffix that matched (closer matches are longer), or -1 when `pattern` is not a wildcard form or
// does not match `domain` (both lower-case, no trailing dot).
int WildcardDomainMatch(std::string_view pattern, std::string_view domain);

// What a load read, for `outpostd --check-config`'s closing summary.
struct ConfigSummary {
  int files = 0;       // the file and every included file
  int directives = 0;  // directive lines read (wrong ones included)
  int sections = 0;    // sections opened
};

struct LoadResult {
  std::shared_ptr<const Config> config;  // null when errors is not empty
  std::vector<ConfigError> errors;
  std::vector<ConfigError> notices;  // worth telling, not wrong (e.g. an include glob that matched
                                     // no file)
  ConfigSummary summary;
};

// "N directives and M sections read from K files: E errors, W notices" (one line).
std::string SummaryLine(const LoadResult& result);

// Reads and validates `path`. Relative paths inside (spool, keys, acct files) are resolved
// against the directory of the config file.
LoadResult LoadConfig(const std::string& path);
// Parses `text` as if it were the file `name` (for tests and for tools).
LoadResult ParseConfig(const std::string& text, const std::string& name = "<string>");

// Value parsers, exposed for tests and for other modules' flags. Each returns nullopt on bad input.
std::optional<Seconds> ParseDuration(const std::string& text);
std::optional<std::vector<Seconds>> ParseDurationList(const std::string& text);
std::optional<Rate> ParseRate(const std::string& text);
std::optional<std::uint64_t> ParseSize(const std::string& text);
// A share: "50%" or "0.5" (also "12.5%"), returned as a fraction (0.5). Not negative; a bare number
// is a fraction, so "50" is 50 (5000 %): callers bound the result.
std::optional<double> ParseShare(const std::string& text);
std::optional<bool> ParseBool(const std::string& text);
std::optional<ListenAddress> ParseListenAddress(const std::string& text, bool port_only_ok);

}  // namespace outpost::config
