#include "mta/delivery/reply_classifier.hpp"

#include <cstdlib>
#include <optional>
#include <string_view>
#include <utility>

#include "common/invariant.hpp"

namespace outpost::delivery {

namespace {

struct StatusName {
  const char* subject_detail;  // "1.1"
  const char* text;
};

// RFC 3463 section 3 names, lower-case as PowerMTA's dsnStatus writes them.
constexpr StatusName kStatusNames[] = {
    {"0.0", "other undefined status"},
    {"1.0", "other address status"},
    {"1.1", "bad destination mailbox address"},
    {"1.2", "bad destination system address"},
    {"1.3", "bad destination mailbox address syntax"},
    {"1.4", "destination mailbox address ambiguous"},
    {"1.5", "destination address valid"},
    {"1.6", "destination mailbox has moved, no forwarding address"},
    {"1.7", "bad sender's mailbox address syntax"},
    {"1.8", "bad sender's system address"},
    {"2.0", "other or undefined mailbox status"},
    {"2.1", "mailbox disabled, not accepting messages"},
    {"2.2", "mailbox full"},
    {"2.3", "message length exceeds administrative limit"},
    {"2.4", "mailing list expansion problem"},
    {"3.0", "other or undefined mail system status"},
    {"3.1", "mail system full"},
    {"3.2", "system not accepting network messages"},
    {"3.3", "system not capable of selected features"},
    {"3.4", "message too big for system"},
    {"3.5", "system incorrectly configured"},
    {"4.0", "other or undefined network or routing status"},
    {"4.1", "no answer from host"},
    {"4.2", "bad connection"},
    {"4.3", "directory server failure"},
    {"4.4", "unable to route"},
    {"4.5", "mail system congestion"},
    {"4.6", "routing loop detected"},
    {"4.7", "delivery time expired"},
    {"5.0", "other or undefined protocol status"},
    {"5.1", "invalid command"},
    {"5.2", "syntax error"},
    {"5.3", "too many recipients"},
    {"5.4", "invalid command arguments"},
    {"5.5", "wrong protocol version"},
    {"6.0", "other or undefined media error"},
    {"6.1", "media not supported"},
    {"6.2", "conversion required and prohibited"},
    {"6.3", "conversion required but not supported"},
    {"6.4", "conversion with loss performed"},
    {"6.5", "conversion failed"},
    {"7.0", "other or undefined security status"},
    {"7.1", "delivery not authorized, message refused"},
    {"7.2", "mailing list expansion prohibited"},
    {"7.3", "security conversion required but not possible"},
    {"7.4", "security features not supported"},
    {"7.5", "cryptographic failure"},
    {"7.6", "cryptographic algorithm not supported"},
    {"7.7", "message integrity failure"},
};

const char* FindName(const std::string& subject_detail) {
  for (const StatusName& n : kStatusNames) {
    if (subject_detail == n.subject_detail) return n.text;
  }
  return nullptr;
}

bool AllDigits(const std::string& s) {
  if (s.empty() || s.size() > 3) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

struct Enhanced {
  int cls = 0;
  int subject = -1;
  int detail = -1;
};

// "5.1.1" -> {5,1,1}; false when malformed.
bool ParseEnhanced(const std::string& e, Enhanced& out) {
  std::size_t a = e.find('.');
  if (a == std::string::npos) return false;
  std::size_t b = e.find('.', a + 1);
  if (b == std::string::npos) return false;
  std::string c = e.substr(0, a), s = e.substr(a + 1, b - a - 1), d = e.substr(b + 1);
  if (c.size() != 1 || !AllDigits(c) || !AllDigits(s) || !AllDigits(d)) return false;
  out.cls = std::atoi(c.c_str());
  out.subject = std::atoi(s.c_str());
  out.detail = std::atoi(d.c_str());
  return out.cls == 2 || out.cls == 4 || out.cls == 5;
}

struct DefaultRule {
  const char* regex;
  const char* category;
};

// The default text rules, tried in this order on the reply text, case-insensitively. The first
// block is the header's list; the others are PowerMTA's further defaults, placed so that a more
// specific reason wins over a generic word ("Recipient address rejected: User unknown" is
// bad-mailbox, not policy-related; "Relay access denied" is relaying-issues).
constexpr DefaultRule kTextRules[] = {
    // Rate limits first: the receiver throttles this sender by its policy (Gmail's 421 4.7.28
    // "unusual rate of unsolicited mail ... temporarily rate limited", Outlook's 451 4.7.650
    // "temporarily rate limited due to IP reputation"). PowerMTA's accounting data categorise
    // them policy-related (docs/powermta.md), also when the full text mentions spam ("To protect
    // our users from spam, mail sent from your IP address has been temporarily rate limited").
    {R"(\brate[ -]?limit|\bunusual rate\b)", "policy-related"},
    {R"(spam|junk mail|black ?list|block ?list|blocked|\b(open)?rbl\b|realtime blackhole)",
     "spam-related"},
    {R"(\bvirus\b)", "virus-related"},
    {R"(message +content|content +rejected)", "content-related"},
    {R"(quota|mailbox +(is +)?full|insufficient (system )?storage)", "quota-issues"},
    {R"((user|mailbox|recipient|account|address) +(has +been +|is +)?(currently +|temporarily +)?)"
     R"((disabled|expired|inactive|not activated))",
     "inactive-mailbox"},
    {R"(too many (bad|invalid|unknown|illegal|unavailable) (user|mailbox|recipient|address))",
     "other"},
    {R"((no such|bad|invalid|unknown|illegal|unavailable) +(local +)?)"
     R"((user|mailbox|recipient|rcpt|local part|address|account))",
     "bad-mailbox"},
    {R"((user|mailbox|recipient|rcpt|local part|address|account) +(\S+@\S+ +)?)"
     R"((not (a +)?valid|not known|not here|not found|does not exist|doesn't exist|)"
     R"(unknown|unavailable|invalid))",
     "bad-mailbox"},
    {R"(no mailbox here by that name)", "bad-mailbox"},
    {R"(\brelay(ing)?\b)", "relaying-issues"},
    {R"(domain +(retired|bad|invalid|unknown|illegal|unavailable)|domain no longer in use|)"
     R"(domain name not found)",
     "bad-domain"},
    {R"(denied|rejected|refused|prohibited|banned|\bpolicy\b)", "policy-related"},
    {R"(bad sequence|syntax error)", "protocol-errors"},
    {R"(\bunroute?able\b)", "routing-errors"},
};

using Category = BounceCategory;

// A category name of this file's tables or of <bounce-category-patterns> (validated by the
// config parser): always a known one.
Category CategoryNamed(std::string_view name) {
  const std::optional<Category> category = ParseBounceCategory(name);
  if (!OUTPOST_INVARIANT(category.has_value(), "a bounce category name is known")) {
    return Category::kOther;
  }
  return *category;
}

struct CompiledDefault {
  std::regex regex;
  Category category;
};

const std::vector<CompiledDefault>& DefaultTextRules() {
  static const std::vector<CompiledDefault> rules = [] {
    std::vector<CompiledDefault> out;
    for (const DefaultRule& r : kTextRules) {
      out.push_back(CompiledDefault{
          std::regex(r.regex, std::regex::ECMAScript | std::regex::icase | std::regex::optimize),
          CategoryNamed(r.category)});
    }
    return out;
  }();
  return rules;
}

Category CategoryFromCode(const std::string& enhanced) {
  Enhanced e;
  if (!ParseEnhanced(enhanced, e)) return Category::kOther;
  if (e.cls == 2) return Category::kSuccess;
  const int s = e.subject, d = e.detail;
  if (s == 1 && d == 1) return Category::kBadMailbox;
  if (s == 1 && d == 2) return Category::kBadDomain;
  if (s == 3 && d == 5) return Category::kBadConfiguration;
  if (s == 4 && d == 1) return Category::kNoAnswerFromHost;
  if (s == 4 && d == 2) return Category::kBadConnection;
  if (s == 4 && (d == 4 || d == 6)) return Category::kRoutingErrors;
  if (s == 4 && d == 7) return Category::kMessageExpired;
  if (s == 7 && d == 1) return Category::kPolicyRelated;
  return Category::kOther;
}

std::regex Compile(const std::string& regex, bool icase) {
  auto flags = std::regex::ECMAScript | std::regex::optimize;
  if (icase) flags |= std::regex::icase;
  // The config parser validated the syntax; a throw here is a start-up error, never data path.
  return std::regex(regex, flags);
}

}  // namespace

std::string DsnStatusText(const std::string& enhanced_or_class) {
  const std::string& in = enhanced_or_class;
  int cls = 0;
  Enhanced e;
  if (ParseEnhanced(in, e)) {
    cls = e.cls;
  } else if ((in.size() == 1 || (in.size() == 3 && AllDigits(in))) &&
             (in[0] == '2' || in[0] == '4' || in[0] == '5')) {
    cls = in[0] - '0';  // "5" or a basic reply code such as "550"
  } else {
    return "";
  }
  const std::string c = std::to_string(cls);
  if (cls == 2) {
    // Success: "2.0.0 (success)"; a specific 2.x.y keeps its code.
    return (e.cls == 2 ? in : c + ".0.0") + " (success)";
  }
  if (e.cls != 0) {
    std::string sd = std::to_string(e.subject) + "." + std::to_string(e.detail);
    if (const char* name = FindName(sd)) return in + " (" + name + ")";
    // Unknown detail (e.g. 4.7.28): the subject's "other" status, "4.7.0 (...)".
    std::string s0 = std::to_string(e.subject) + ".0";
    if (const char* name = FindName(s0)) return c + "." + s0 + " (" + name + ")";
  }
  return c + ".0.0 (other undefined status)";
}

ReplyClassifier::ReplyClassifier(const config::Config& config) {
  for (const config::BounceCategoryPattern& p : config.bounce_category_patterns) {
    // An operator's own name (the parser checked its form); `other` once the table is full.
    const Category category = InternBounceCategory(p.category).value_or(Category::kOther);
    category_patterns_.push_back(
        CompiledPattern{Compile(p.regex, p.icase), category, config::PatternMode::kNone});
  }
  for (const config::SmtpPatternList& list : config.smtp_pattern_lists) {
    std::vector<CompiledPattern> compiled;
    for (const config::SmtpPattern& p : list.patterns) {
      compiled.push_back(CompiledPattern{Compile(p.regex, p.icase), Category::kOther, p.mode});
    }
    pattern_lists_.emplace_back(list.name, std::move(compiled));
  }
}

Category ReplyClassifier::BounceCategory(const Reply& reply) const {
  if (reply.Positive()) return Category::kSuccess;
  const std::string full = reply.Full();
  for (const CompiledPattern& p : category_patterns_) {
    // A `success` line (PowerMTA's samples map 2.x.x replies to it) never makes a failure one.
    if (p.category == Category::kSuccess) continue;
    if (std::regex_search(full, p.regex)) return p.category;
  }
  for (const CompiledDefault& r : DefaultTextRules()) {
    if (std::regex_search(reply.text, r.regex)) return r.category;
  }
  const Category category = CategoryFromCode(reply.enhanced);
  // A 2.x.y enhanced code on a failure reply says nothing about the failure.
  return category == Category::kSuccess ? Category::kOther : category;
}

bool ReplyClassifier::IsHardBounce(Category category) {
  return category == Category::kBadMailbox || category == Category::kInactiveMailbox ||
         category == Category::kBadDomain;
}

config::PatternMode ReplyClassifier::MatchPatterns(const std::string& list_name,
                                                   const Reply& reply) const {
  for (const auto& [name, patterns] : pattern_lists_) {
    if (name != list_name) continue;
    const std::string full = reply.Full();
    for (const CompiledPattern& p : patterns) {
      if (std::regex_search(full, p.regex)) return p.mode;
    }
    return config::PatternMode::kNone;
  }
  return config::PatternMode::kNone;
}

}  // namespace outpost::delivery
