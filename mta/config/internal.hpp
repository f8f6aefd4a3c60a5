// Internals of the configuration parser, shared by its source files and its tests (not for other
// modules: they use config.hpp).
//
// The language is described by tables: one ScopeSpec per scope (global, and one per section tag),
// each holding the DirectiveSpecs allowed there. A DirectiveSpec names the directive, gives its
// syntax, default and meaning (docs/config.md is checked against these by a unit test) and the
// setter that parses the value into the Config being built. The parser only looks names up in
// these tables, so an unknown directive, or one used in the wrong scope, is found by lookup.
//
// Thread-safety: the tables are immutable after static initialisation; a ParseContext belongs to
// one parse on one thread.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "mta/config/config.hpp"

namespace outpost::config {

// Who acts on a directive today (docs/config.md says the same, honestly).
enum class Implementation {
  kDaemon,      // outpostd acts on it now (smtp-in, spool, log, accounting)
  kDelivery,    // parsed and checked now; acted on by the delivery engine (not yet)
  kManagement,  // parsed and checked now; acted on by the management plane (not yet)
  kDkim,        // parsed and checked now; acted on by the DKIM signer (not yet)
};
const char* ImplementationText(Implementation impl);

enum class Scope {
  kGlobal,
  kSource,
  kSmtpUser,
  kVirtualMta,
  kVirtualMtaPool,
  kDomain,
  kSmtpPatternList,
  kBounceCategoryPatterns,
  kAcctFile,
  kSpool,
  kPatternList,
  kBounceProcessor,
  kFeedbackLoopProcessor,
  kAddressList,  // only inside a processor
  kAlertAction,
};

// A pending cross-reference, checked once the whole file is read.
struct Reference {
  enum Kind {
    kPatternList,
    kVmtaOrPool,
    kVmta,
    kNamedSource,
    kMacro,
    kRoutePatternList,
    kTlsCertificate,  // `directive` needs smtp-server-tls-certificate (name unused)
  } kind;
  std::string name;
  int line = 0;
  std::string directive;  // for the message
  std::string file;       // set by the parser after the setter (the file being read)
};

struct ParseContext {
  Config* config = nullptr;
  std::string file;      // for messages
  std::string base_dir;  // relative paths resolve against it ("" = leave relative)
  int line = 0;
  std::size_t index = 0;  // index of the current section's object in its Config vector
  // While a section nested in another opens (<domain> in <virtual-mta> or <virtual-mta-pool>):
  // the enclosing section's scope and index. kGlobal when the section opens at the top level.
  Scope parent = Scope::kGlobal;
  std::size_t parent_index = 0;
  std::vector<Reference> references;
  std::map<std::string, int> global_lines;  // canonical global directive -> its line
  // <alert-action> rules (by index) with a `match` / `action` line, even a bad one (reported
  // once, not again as missing).
  std::set<std::size_t> alert_match_seen, alert_action_seen;
  std::vector<ConfigError>* errors = nullptr;
  std::vector<ConfigError>* notices = nullptr;

  std::string ResolvePath(const std::string& path) const;
  void Error(int at_line, const std::string& message) const;
  void Notice(int at_line, const std::string& message) const;
  void ErrorAt(const std::string& at_file, int at_line, const std::string& message) const;
  void NoticeAt(const std::string& at_file, int at_line, const std::string& message) const;
};

// Where each section's object was opened: (scope, index in its Config vector) -> (file, line).
using SectionOrigins = std::map<std::pair<Scope, std::size_t>, std::pair<std::string, int>>;

// The checks that need the whole configuration (checks.cpp): required directives, sections
// missing what they need, cross-references. `main_file` is named for whole-file errors.
void CheckWholeConfig(ParseContext& ctx, const SectionOrigins& origins,
                      const std::string& main_file);

// Cold/warm virtual MTA pairs (cold_vmtas.cpp): checks each cold-virtual-mta, defines the virtual
// MTA of each auto-cold-virtual-mta, and gives a notice for a max-cold-virtual-mta-msg no warm
// virtual MTA can use. Run by CheckWholeConfig before the cross-references.
void ResolveColdVirtualMtas(ParseContext& ctx, const SectionOrigins& origins,
                            const std::string& main_file);

// A setter parses `value` into the object of the current scope. It returns nullopt on success;
// on failure the detail of what was expected (an empty string means "use the spec's `expected`").
using Setter = std::optional<std::string> (*)(ParseContext&, const std::string& value);

struct DirectiveSpec {
  const char* name;
  const char* syntax;        // e.g. "max-smtp-out N"
  const char* default_text;  // as shown in docs/config.md after "Default:"
  const char* doc;           // one or two sentences
  Implementation impl;
  Setter set;
  const char* expected;  // "expected a duration like ..." when the setter gives no detail
  bool repeatable = false;
  const char* alias_of = nullptr;  // set for aliases: duplicates count against the canonical name
};

// Opens a section: validates `arg`, appends the section's object to the Config, sets
// ctx.index, and stores the canonical name used to detect duplicate sections in `key` (one a
// line when the section has several names).
// Returns an error detail for a bad argument (the object is still created, so the section's
// directives are checked too).
using Opener = std::optional<std::string> (*)(ParseContext&, const std::string& arg,
                                              std::string* key);

struct ScopeSpec {
  Scope scope;
  const char* tag;         // "source"; "" for the global scope
  const char* arg_syntax;  // "ADDR/CIDR | {name}"; "" when the section takes no argument
  const char* title;       // docs/config.md heading of this scope's part
  const char* doc;
  Opener open;
  const std::vector<DirectiveSpec>* directives;
  // Sections that may enclose this one; empty: top level only (sections do not nest otherwise).
  std::vector<Scope> parents = {};
};

const std::vector<ScopeSpec>& Scopes();
const ScopeSpec& ScopeFor(Scope scope);
const ScopeSpec* FindSection(const std::string& lower_tag);
const DirectiveSpec* FindDirective(const ScopeSpec& scope, const std::string& lower_name);

// PowerMTA names Outpost does not implement (powermta_names.cpp). `scopes` is a set of the bits
// below: the scopes where PowerMTA takes the directive and Outpost does not; `note` is set when
// there is more to say than "not implemented yet" (nullptr otherwise).
enum : unsigned {
  kPmtaGlobal = 1,
  kPmtaSource = 2,
  kPmtaDomain = 4,
  kPmtaVirtualMta = 8,
  kPmtaSmtpUser = 16,
  kPmtaAcctFile = 32,
  kPmtaSpool = 64,
};
struct PowerMtaName {
  const char* name;
  unsigned scopes;   // 0 for section tags
  const char* note;  // why Outpost has no equivalent, when "not yet" is not the whole story
};
const std::vector<PowerMtaName>& PowerMtaDirectives();
const std::vector<PowerMtaName>& PowerMtaSections();
const PowerMtaName* FindPowerMtaDirective(const std::string& lower_name);
const PowerMtaName* FindPowerMtaSection(const std::string& lower_tag);
unsigned PowerMtaScopeBit(Scope scope);

// A value as echoed in a message: at most about 60 characters (longer ones are cut and their
// length given), control characters shown as '?'.
std::string Shown(std::string_view value);

// Messages for names the tables lack (messages.cpp): a typo, a line in the wrong scope, or a
// PowerMTA name Outpost does not implement.
std::string UnknownDirectiveMessage(const ScopeSpec& scope, const std::string& lower_name);
std::string UnknownSectionMessage(const std::string& lower_tag);

// Pattern lines: `/regex/[i] rest`. Returns false when `text` does not start with a complete
// /regex/ (an empty one, `//`, only with allow_empty); `end` is the offset just after the closing
// '/' and its flag.
bool SplitRegex(std::string_view text, std::string* regex, bool* icase, std::size_t* end,
                bool allow_empty = false);
// An error detail when `regex` is not a valid ECMAScript regular expression.
std::optional<std::string> CheckRegex(const std::string& regex, bool icase);

// Small string helpers.
std::string Trim(std::string_view text);
std::string Lower(std::string_view text);
std::vector<std::string> SplitList(std::string_view text);   // "a, b,c" -> {"a","b","c"}
std::vector<std::string> SplitWords(std::string_view text);  // " a  b\tc" -> {"a","b","c"}
std::optional<std::uint64_t> ParseUnsigned(std::string_view text);
bool IsHostName(std::string_view text);
std::optional<ListenAddress> ParseHostPort(const std::string& text, bool port_only_ok,
                                           bool hostname_ok);
std::size_t EditDistance(std::string_view a, std::string_view b);

}  // namespace outpost::config
