// The parser: splits the text into lines, strips comments, tracks the section stack, looks every
// directive up in the scope tables of directives.cpp, and collects every error with its line.
// After the whole text is read it checks what needs the whole file: required directives and
// cross-references between sections.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "mta/config/internal.hpp"

namespace outpost::config {

std::string ParseContext::ResolvePath(const std::string& path) const {
  if (base_dir.empty() || path.empty() || path.front() == '/') return path;
  return (std::filesystem::path(base_dir) / path).lexically_normal().string();
}

void ParseContext::Error(int at_line, const std::string& message) const {
  errors->push_back(ConfigError{file, at_line, message});
}

namespace {

// One open section (or the global scope at the bottom of the stack).
struct Frame {
  const ScopeSpec* spec = nullptr;  // null for an unknown section: its contents are skipped
  std::string tag;                  // as written, lower-cased
  std::string arg;
  int line = 0;
  std::size_t index = 0;
  std::map<std::string, int> seen;  // canonical directive name -> first line (duplicates)

  std::string Describe() const { return "<" + tag + (arg.empty() ? "" : " " + arg) + ">"; }
};

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

// Removes a `#` comment: `#` at the start of the line or after white space (so a password or a
// value may contain '#'). In pattern scopes, a /regex/ is skipped first: '#' inside it is a
// character of the pattern.
std::string StripComment(const std::string& line, bool regex_aware) {
  bool in_regex = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    bool after_space = i == 0 || IsSpace(line[i - 1]);
    if (regex_aware) {
      if (in_regex) {
        if (c == '\\') {
          ++i;
        } else if (c == '/') {
          in_regex = false;
        }
        continue;
      }
      if (c == '/' && after_space) {
        in_regex = true;
        continue;
      }
    }
    if (c == '#' && after_space) return line.substr(0, i);
  }
  return line;
}

std::string ScopeName(const ScopeSpec& s) {
  return s.scope == Scope::kGlobal ? std::string("the global scope")
                                   : "<" + std::string(s.tag) + ">";
}

// "did you mean" for a misspelt name among `candidates`; empty when nothing is close.
std::string Suggest(const std::string& name, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_distance = std::string::npos;
  const std::size_t limit = std::max<std::size_t>(2, name.size() / 4);
  for (const std::string& c : candidates) {
    // The distance is at least the length difference: skip what cannot be within the limit, so
    // a long garbage word costs no |name| x |candidate| table per directive name (found by
    // fuzz/config_fuzzer: a 4 KB unknown word took milliseconds).
    const std::size_t gap =
        name.size() > c.size() ? name.size() - c.size() : c.size() - name.size();
    if (gap > limit) continue;
    std::size_t d = EditDistance(name, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  if (best.empty() || best_distance > limit) return "";
  return " (did you mean '" + best + "'?)";
}

// Parses one text into one Config. Not thread-safe: one Parser per parse, used once.
class Parser {
 public:
  Parser(std::string file, std::string base_dir) {
    ctx_.config = config_.get();
    ctx_.file = std::move(file);
    ctx_.base_dir = std::move(base_dir);
    ctx_.errors = &errors_;
    config_->files.push_back(ctx_.file);
    Frame global;
    global.spec = &ScopeFor(Scope::kGlobal);
    stack_.push_back(global);
  }

  LoadResult Run(const std::string& text) {
    std::istringstream in(text);
    std::string raw;
    int line_no = 0;
    while (std::getline(in, raw)) {
      ++line_no;
      if (!raw.empty() && raw.back() == '\r') raw.pop_back();
      Line(raw, line_no);
    }
    for (std::size_t i = 1; i < stack_.size(); ++i) {
      const Frame& f = stack_[i];
      ctx_.Error(f.line, "section " + f.Describe() + " opened here is never closed (end of file " +
                             "at line " + std::to_string(line_no) + ")");
    }
    CheckWholeFile();
    LoadResult result;
    result.errors = std::move(errors_);
    if (result.errors.empty()) result.config = std::move(config_);
    return result;
  }

 private:
  void Line(const std::string& raw, int line_no) {
    ctx_.line = line_no;
    const Frame& top = stack_.back();
    bool pattern_scope = top.spec != nullptr && (top.spec->scope == Scope::kSmtpPatternList ||
                                                 top.spec->scope == Scope::kBounceCategoryPatterns);
    std::string text = Trim(StripComment(raw, pattern_scope));
    if (text.empty()) return;
    if (text.front() == '<') {
      Tag(text, line_no);
    } else {
      Directive(text, line_no);
    }
  }

  void Tag(const std::string& text, int line_no) {
    if (text.back() != '>') {
      ctx_.Error(line_no, "section tag '" + text + "' does not end with '>'");
      return;
    }
    std::string inner = Trim(std::string_view(text).substr(1, text.size() - 2));
    if (!inner.empty() && inner.front() == '/') {
      Close(Lower(Trim(std::string_view(inner).substr(1))), line_no);
      return;
    }
    std::size_t space = inner.find_first_of(" \t");
    Frame frame;
    frame.tag = Lower(inner.substr(0, space));
    frame.arg = space == std::string::npos ? "" : Trim(std::string_view(inner).substr(space));
    frame.line = line_no;
    frame.spec = FindSection(frame.tag);
    if (frame.spec == nullptr) {
      std::vector<std::string> tags;
      for (const ScopeSpec& s : Scopes()) {
        if (s.scope != Scope::kGlobal) tags.push_back(s.tag);
      }
      ctx_.Error(line_no, "unknown section <" + frame.tag + ">" + Suggest(frame.tag, tags));
    } else {
      if (stack_.size() > 1) {
        ctx_.Error(line_no, "section <" + frame.tag + "> cannot be inside " +
                                stack_.back().Describe() + " opened at line " +
                                std::to_string(stack_.back().line) + "; sections do not nest");
      }
      std::string key;
      if (auto err = frame.spec->open(ctx_, frame.arg, &key)) {
        ctx_.Error(line_no, "bad argument '" + frame.arg + "' for <" + frame.tag + ">: " + *err);
      } else {
        auto [it, inserted] = sections_.emplace(frame.tag + " " + key, line_no);
        if (!inserted) {
          ctx_.Error(line_no, "duplicate section " + frame.Describe() + " (first at line " +
                                  std::to_string(it->second) + ")");
        }
      }
      frame.index = ctx_.index;
      section_lines_[{frame.spec->scope, frame.index}] = line_no;
    }
    stack_.push_back(std::move(frame));
  }

  void Close(const std::string& tag, int line_no) {
    if (stack_.size() == 1) {
      ctx_.Error(line_no, "stray </" + tag + "> with no open section");
      return;
    }
    if (stack_.back().tag == tag) {
      stack_.pop_back();
      return;
    }
    const Frame& top = stack_.back();
    ctx_.Error(line_no, "mismatched </" + tag + ">: " + top.Describe() + " opened at line " +
                            std::to_string(top.line) + " is still open");
    // Recover: if an enclosing section has this tag, close up to it; otherwise ignore the tag.
    for (std::size_t i = stack_.size() - 1; i >= 1; --i) {
      if (stack_[i].tag == tag) {
        stack_.resize(i);
        return;
      }
    }
  }

  void Directive(const std::string& text, int line_no) {
    Frame& frame = stack_.back();
    if (frame.spec == nullptr) return;  // inside an unknown section: already reported
    const ScopeSpec& scope = *frame.spec;
    const DirectiveSpec* spec = nullptr;
    std::string name, value;
    if (scope.scope == Scope::kBounceCategoryPatterns && text.front() == '/') {
      spec = &scope.directives->front();
      name = spec->name;
      value = text;
    } else {
      std::size_t space = text.find_first_of(" \t");
      name = Lower(text.substr(0, space));
      value = space == std::string::npos ? "" : Trim(std::string_view(text).substr(space));
      spec = FindDirective(scope, name);
    }
    if (spec == nullptr) {
      UnknownDirective(scope, name, line_no);
      return;
    }
    std::string canonical = spec->alias_of != nullptr ? spec->alias_of : spec->name;
    if (value.empty()) {
      ctx_.Error(line_no, "missing value for '" + name + "': " + spec->expected);
      return;
    }
    if (!spec->repeatable) {
      auto [it, inserted] = frame.seen.emplace(canonical, line_no);
      if (!inserted) {
        ctx_.Error(line_no, "duplicate '" + name + "' in " + ScopeName(scope) + " (first at line " +
                                std::to_string(it->second) + ")");
        return;
      }
    }
    if (scope.scope == Scope::kGlobal) ctx_.global_lines.emplace(canonical, line_no);
    ctx_.index = frame.index;
    ctx_.line = line_no;
    if (auto err = spec->set(ctx_, value)) {
      ctx_.Error(line_no, "bad value '" + value + "' for '" + name +
                              "': " + (err->empty() ? std::string(spec->expected) : *err));
    }
  }

  void UnknownDirective(const ScopeSpec& scope, const std::string& name, int line_no) {
    std::string elsewhere;
    for (const ScopeSpec& other : Scopes()) {
      if (&other != &scope && FindDirective(other, name) != nullptr) {
        elsewhere += std::string(elsewhere.empty() ? "" : " or ") + ScopeName(other);
      }
    }
    if (!elsewhere.empty()) {
      ctx_.Error(line_no, "'" + name + "' is not allowed in " + ScopeName(scope) +
                              "; it belongs in " + elsewhere);
      return;
    }
    std::vector<std::string> names;
    for (const DirectiveSpec& d : *scope.directives) names.push_back(d.name);
    std::string hint = Suggest(name, names);
    if (hint.empty()) {
      for (const ScopeSpec& other : Scopes()) {
        for (const DirectiveSpec& d : *other.directives) names.push_back(d.name);
      }
      hint = Suggest(name, names);
    }
    ctx_.Error(line_no, "unknown directive '" + name + "' in " + ScopeName(scope) + hint);
  }

  int SectionLine(Scope scope, std::size_t index) const {
    auto it = section_lines_.find({scope, index});
    return it == section_lines_.end() ? 0 : it->second;
  }

  void CheckWholeFile() {
    Config& c = *config_;
    if (c.spool_dir.empty() && ctx_.global_lines.count("spool") == 0) {
      ctx_.Error(0, "no 'spool' directive: the spool directory is required");
    }
    if (c.smtp_listeners.empty() && ctx_.global_lines.count("smtp-listener") == 0) {
      ctx_.Error(0, "no 'smtp-listener' directive: at least one is required");
    }
    if (!c.smtp_server_tls_private_key.empty() && c.smtp_server_tls_certificate.empty()) {
      ctx_.Error(ctx_.global_lines["smtp-server-tls-private-key"],
                 "'smtp-server-tls-private-key' without 'smtp-server-tls-certificate'");
    }
    for (std::size_t i = 0; i < c.smtp_users.size(); ++i) {
      if (c.smtp_users[i].password.empty()) {
        ctx_.Error(SectionLine(Scope::kSmtpUser, i),
                   "<smtp-user " + c.smtp_users[i].name + "> has no 'password'");
      }
    }
    for (std::size_t i = 0; i < c.virtual_mta_pools.size(); ++i) {
      const VirtualMtaPool& pool = c.virtual_mta_pools[i];
      if (pool.members.empty()) {
        ctx_.Error(SectionLine(Scope::kVirtualMtaPool, i),
                   "<virtual-mta-pool " + pool.name + "> has no 'virtual-mta' members");
      }
      if (c.FindVirtualMta(pool.name) != nullptr) {
        ctx_.Error(SectionLine(Scope::kVirtualMtaPool, i),
                   "<virtual-mta-pool " + pool.name +
                       "> has the name of a <virtual-mta>; the names must differ");
      }
    }
    for (const Reference& r : ctx_.references) CheckReference(r);
    if (c.host_name.empty()) {
      char buf[256] = {};
      if (gethostname(buf, sizeof buf - 1) == 0) c.host_name = buf;
    }
  }

  void CheckReference(const Reference& r) {
    const Config& c = *config_;
    switch (r.kind) {
      case Reference::kPatternList: {
        bool found = false;
        for (const SmtpPatternList& l : c.smtp_pattern_lists) found = found || l.name == r.name;
        if (!found) {
          ctx_.Error(r.line, "'smtp-pattern-list " + r.name + "': no <smtp-pattern-list " + r.name +
                                 "> is defined");
        }
        break;
      }
      case Reference::kVmtaOrPool:
        if (c.FindVirtualMta(r.name) == nullptr && c.FindVirtualMtaPool(r.name) == nullptr) {
          ctx_.Error(r.line, "'" + r.directive + " " + r.name + "': no <virtual-mta " + r.name +
                                 "> or <virtual-mta-pool " + r.name + "> is defined");
        }
        break;
      case Reference::kVmta:
        if (c.FindVirtualMta(r.name) == nullptr) {
          ctx_.Error(r.line, "'virtual-mta " + r.name + "': no <virtual-mta " + r.name +
                                 "> is defined" +
                                 (c.FindVirtualMtaPool(r.name) != nullptr
                                      ? " (it is a pool; pools cannot contain pools)"
                                      : ""));
        }
        break;
      case Reference::kNamedSource: {
        bool found = false;
        for (const SourcePolicy& s : c.sources) found = found || s.name == r.name;
        if (!found) {
          ctx_.Error(r.line, "'source " + r.name + "': no <source " + r.name + "> is defined");
        }
        break;
      }
      case Reference::kMacro:
        if (c.domain_macros.count(r.name) == 0) {
          ctx_.Error(r.line,
                     "<domain $" + r.name + ">: no 'domain-macro " + r.name + "' is defined");
        }
        break;
    }
  }

  std::shared_ptr<Config> config_ = std::make_shared<Config>();
  std::vector<ConfigError> errors_;
  ParseContext ctx_;
  std::vector<Frame> stack_;
  std::map<std::string, int> sections_;  // "tag key" -> line, for duplicate sections
  std::map<std::pair<Scope, std::size_t>, int> section_lines_;
};

LoadResult ParseWithBase(const std::string& text, const std::string& name,
                         const std::string& base_dir) {
  Parser parser(name, base_dir);
  return parser.Run(text);
}

}  // namespace

LoadResult ParseConfig(const std::string& text, const std::string& name) {
  std::string base;
  if (name.find('/') != std::string::npos) {
    std::error_code ec;
    auto abs = std::filesystem::absolute(name, ec);
    if (!ec) base = abs.parent_path().string();
  }
  return ParseWithBase(text, name, base);
}

LoadResult LoadConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    LoadResult r;
    r.errors.push_back(ConfigError{path, 0, std::string("cannot open: ") + std::strerror(errno)});
    return r;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    LoadResult r;
    r.errors.push_back(ConfigError{path, 0, std::string("cannot read: ") + std::strerror(errno)});
    return r;
  }
  std::error_code ec;
  auto abs = std::filesystem::absolute(path, ec);
  return ParseWithBase(text.str(), path, ec ? std::string() : abs.parent_path().string());
}

}  // namespace outpost::config
