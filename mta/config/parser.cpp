// The parser: splits each file into lines (a UTF-8 byte-order mark and CRLF accepted), strips
// comments, joins a value ending with a comma to the next line, reads `include FILE|GLOB` in place
// (relative to the including file, cycles refused), tracks the section stack, looks every
// directive up in the scope tables of directives*.cpp, and collects every error with its file and
// line. After everything is read, checks.cpp checks what needs the whole configuration.
//
// Sections do not nest, except <domain> inside <virtual-mta> and <virtual-mta-pool>
// (per-virtual-MTA destination policy). Recovery keeps one mistake one error: a section Outpost
// does not know (or a section nested where Outpost does not nest them) is reported once and its
// contents are skipped without further messages, and it is never registered, so a later legitimate
// section is not its "duplicate".
#include <glob.h>
#include <unistd.h>

#include <algorithm>
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

void ParseContext::Notice(int at_line, const std::string& message) const {
  notices->push_back(ConfigError{file, at_line, message});
}

void ParseContext::NoticeAt(const std::string& at_file, int at_line,
                            const std::string& message) const {
  notices->push_back(ConfigError{at_file, at_line, message});
}

void ParseContext::ErrorAt(const std::string& at_file, int at_line,
                           const std::string& message) const {
  errors->push_back(ConfigError{at_file, at_line, message});
}

namespace {

// One open section (or the global scope at the bottom of the stack).
struct Frame {
  const ScopeSpec* spec = nullptr;  // null for an unknown section: its contents are skipped
  std::string tag;                  // as written, lower-cased
  std::string arg;
  std::string file;
  int line = 0;
  std::size_t index = 0;
  std::map<std::string, int> seen;  // canonical directive name -> first line (duplicates)

  std::string Describe() const {
    return "<" + Shown(tag) + (arg.empty() ? "" : " " + Shown(arg)) + ">";
  }
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

constexpr std::size_t kMaxIncludeDepth = 16;
constexpr int kMaxFiles = 1000;  // a glob like /usr/lib/*/* is a mistake, not a configuration
constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";

// The path that identifies a file for include-cycle detection ("" when it cannot be resolved).
std::string FileKey(const std::string& path) {
  std::error_code ec;
  auto canonical = std::filesystem::weakly_canonical(path, ec);
  return ec ? std::string() : canonical.string();
}

std::string DirectoryOf(const std::string& path) {
  std::error_code ec;
  auto abs = std::filesystem::absolute(path, ec);
  return ec ? std::string() : abs.parent_path().string();
}

// Reads a whole file; nullopt (errno set) when it cannot be opened or read.
std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return text.str();
}

// Parses a configuration (its file and every file it includes) into one Config. Not
// thread-safe: one Parser per load, used once.
class Parser {
 public:
  Parser() {
    ctx_.config = config_.get();
    ctx_.errors = &errors_;
    ctx_.notices = &notices_;
    Frame global;
    global.spec = &ScopeFor(Scope::kGlobal);
    stack_.push_back(global);
  }

  LoadResult Run(const std::string& text, const std::string& name, const std::string& base_dir) {
    ctx_.file = name;
    ctx_.base_dir = base_dir;
    config_->files.push_back(name);
    summary_.files = 1;
    const std::string key = base_dir.empty() ? std::string() : FileKey(name);
    include_stack_.push_back(key.empty() ? name : key);
    const int lines = ReadText(text);
    for (std::size_t i = 1; i < stack_.size(); ++i) {
      const Frame& f = stack_[i];
      ctx_.ErrorAt(f.file, f.line,
                   "section " + f.Describe() + " opened here is never closed (end of file at " +
                       "line " + std::to_string(lines) + ")");
    }
    CheckWholeConfig(ctx_, origins_, name);
    LoadResult result;
    result.errors = std::move(errors_);
    result.notices = std::move(notices_);
    result.summary = summary_;
    if (result.errors.empty()) result.config = std::move(config_);
    return result;
  }

 private:
  // Reads one file's text; returns its number of lines.
  int ReadText(std::string_view text) {
    if (text.substr(0, kByteOrderMark.size()) == kByteOrderMark) {
      text.remove_prefix(kByteOrderMark.size());
    }
    int line_no = 0;
    std::size_t pos = 0;
    while (pos < text.size()) {
      std::size_t eol = text.find('\n', pos);
      if (eol == std::string_view::npos) eol = text.size();
      std::string raw(text.substr(pos, eol - pos));
      pos = eol + 1;
      ++line_no;
      if (!raw.empty() && raw.back() == '\r') raw.pop_back();
      Line(raw, line_no);
    }
    FlushContinuation();
    return line_no;
  }

  void Line(const std::string& raw, int line_no) {
    const Frame& top = stack_.back();
    bool pattern_scope =
        top.spec != nullptr && (top.spec->scope == Scope::kSmtpPatternList ||
                                top.spec->scope == Scope::kBounceCategoryPatterns ||
                                top.spec->scope == Scope::kPatternList);
    std::string text = Trim(StripComment(raw, pattern_scope));
    if (pending_line_ != 0) {
      if (text.empty()) return;  // a comment or blank line inside a continued list
      text = pending_ + " " + text;
      line_no = pending_line_;
      pending_line_ = 0;
    }
    if (text.empty()) return;
    // A list value ending with a comma continues on the next line (long domain-macro lists).
    if (text.front() != '<' && text.back() == ',') {
      pending_ = std::move(text);
      pending_line_ = line_no;
      return;
    }
    Statement(text, line_no);
  }

  void FlushContinuation() {
    if (pending_line_ == 0) return;
    const int line_no = pending_line_;
    pending_line_ = 0;
    Statement(pending_, line_no);
  }

  void Statement(const std::string& text, int line_no) {
    ctx_.line = line_no;
    if (text.front() == '<') {
      Tag(text, line_no);
    } else {
      Directive(text, line_no);
    }
  }

  void Tag(const std::string& text, int line_no) {
    if (text.back() != '>') {
      ctx_.Error(line_no, "section tag '" + Shown(text) + "' does not end with '>'");
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
    frame.file = ctx_.file;
    ++summary_.sections;
    const Frame& parent = stack_.back();
    if (stack_.size() > 1 && parent.spec == nullptr) {
      stack_.push_back(std::move(frame));  // inside a skipped section: already reported
      return;
    }
    const ScopeSpec* spec = FindSection(frame.tag);
    if (spec == nullptr) {
      ctx_.Error(line_no, UnknownSectionMessage(frame.tag));
    } else if (stack_.size() > 1 && !NestsIn(*spec, parent) && !MayNest(*spec, parent)) {
      ctx_.Error(line_no, NestedMessage(frame, parent));
    } else if (stack_.size() == 1 && !spec->parents.empty()) {
      ctx_.Error(line_no, "section <" + frame.tag + "> belongs inside " + ParentList(*spec) +
                              " (its contents are skipped)");
    } else {
      frame.spec = spec;
      const bool nested = stack_.size() > 1;
      ctx_.parent = nested ? parent.spec->scope : Scope::kGlobal;
      ctx_.parent_index = nested ? parent.index : 0;
      Open(frame, line_no);
      ctx_.parent = Scope::kGlobal;
    }
    stack_.push_back(std::move(frame));
  }

  // The one nesting the language has: <domain> inside <virtual-mta> or <virtual-mta-pool>.
  static bool NestsIn(const ScopeSpec& spec, const Frame& parent) {
    return spec.scope == Scope::kDomain && parent.spec != nullptr &&
           (parent.spec->scope == Scope::kVirtualMta ||
            parent.spec->scope == Scope::kVirtualMtaPool);
  }

  // Sections that declare their parents (ScopeSpec::parents) nest only there.
  static bool MayNest(const ScopeSpec& spec, const Frame& parent) {
    return parent.spec != nullptr && std::find(spec.parents.begin(), spec.parents.end(),
                                               parent.spec->scope) != spec.parents.end();
  }

  static std::string ParentList(const ScopeSpec& spec) {
    std::string list;
    for (Scope p : spec.parents) {
      list += (list.empty() ? "<" : " or <") + std::string(ScopeFor(p).tag) + ">";
    }
    return list;
  }

  static std::string NestedMessage(const Frame& frame, const Frame& parent) {
    return "section <" + Shown(frame.tag) + "> cannot be inside " + parent.Describe() +
           " opened at line " + std::to_string(parent.line) +
           "; only <domain> nests, inside <virtual-mta> or <virtual-mta-pool>, and <address-list>, "
           "inside a processor (its contents are skipped)";
  }

  void Open(Frame& frame, int line_no) {
    std::string key;
    const std::size_t references = ctx_.references.size();
    auto err = frame.spec->open(ctx_, frame.arg, &key);
    for (std::size_t i = references; i < ctx_.references.size(); ++i) {
      ctx_.references[i].file = ctx_.file;
    }
    if (err) {
      ctx_.Error(line_no,
                 "bad argument '" + Shown(frame.arg) + "' for <" + frame.tag + ">: " + *err);
    } else {
      Register(frame, key, line_no);
    }
    frame.index = ctx_.index;
    origins_[{frame.spec->scope, frame.index}] = {ctx_.file, line_no};
  }

  // Records the section under each of its keys (one a line: <domain a.com b.com> has two), so a
  // later section with one of them is a duplicate.
  void Register(const Frame& frame, const std::string& keys, int line_no) {
    std::istringstream lines(keys);
    std::string key;
    do {
      std::getline(lines, key);
      auto [it, inserted] =
          sections_.emplace(frame.tag + " " + key, std::make_pair(ctx_.file, line_no));
      if (!inserted) {
        ctx_.Error(line_no, "duplicate section " + frame.Describe() + " (first at " +
                                Where(it->second.first, it->second.second) + ")");
        return;
      }
    } while (!lines.eof());
  }

  // "line N" in the file being read, "FILE:N" in another.
  std::string Where(const std::string& file, int line) const {
    return file == ctx_.file ? "line " + std::to_string(line) : file + ":" + std::to_string(line);
  }

  void Close(const std::string& tag, int line_no) {
    if (stack_.size() == floor_) {
      ctx_.Error(line_no, "stray </" + Shown(tag) + "> with no open section" +
                              (floor_ > 1 ? " in this included file" : ""));
      return;
    }
    if (stack_.back().tag == tag) {
      stack_.pop_back();
      return;
    }
    const Frame& top = stack_.back();
    ctx_.Error(line_no, "mismatched </" + Shown(tag) + ">: " + top.Describe() + " opened at " +
                            Where(top.file, top.line) + " is still open");
    // Recover: if an enclosing section of this file has this tag, close up to it; otherwise
    // ignore the tag.
    for (std::size_t i = stack_.size() - 1; i >= floor_; --i) {
      if (stack_[i].tag == tag) {
        stack_.resize(i);
        return;
      }
    }
  }

  void Directive(const std::string& text, int line_no) {
    ++summary_.directives;
    Frame& frame = stack_.back();
    if (frame.spec == nullptr) return;  // inside a skipped section: already reported
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
      if (name == "include") {
        Include(value, line_no);
        return;
      }
      spec = FindDirective(scope, name);
    }
    if (spec == nullptr) {
      ctx_.Error(line_no, UnknownDirectiveMessage(scope, name));
      return;
    }
    Apply(frame, *spec, name, value, line_no);
  }

  void Apply(Frame& frame, const DirectiveSpec& spec, const std::string& name,
             const std::string& value, int line_no) {
    const ScopeSpec& scope = *frame.spec;
    std::string canonical = spec.alias_of != nullptr ? spec.alias_of : spec.name;
    if (value.empty()) {
      ctx_.Error(line_no, "missing value for '" + name + "': " + spec.expected);
      return;
    }
    if (!spec.repeatable) {
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
    const std::size_t references = ctx_.references.size();
    if (auto err = spec.set(ctx_, value)) {
      ctx_.Error(line_no, "bad value '" + Shown(value) + "' for '" + name +
                              "': " + (err->empty() ? std::string(spec.expected) : *err));
    }
    for (std::size_t i = references; i < ctx_.references.size(); ++i) {
      ctx_.references[i].file = ctx_.file;
    }
  }

  // include FILE|GLOB: the files, in name order, read in place of the line.
  void Include(const std::string& value, int line_no) {
    if (value.empty()) {
      ctx_.Error(line_no, "missing value for 'include': expected a file name or a glob pattern");
      return;
    }
    const std::string pattern = ctx_.ResolvePath(value);
    if (pattern.find_first_of("*?[") == std::string::npos) {
      IncludeFile(pattern, line_no);
      return;
    }
    glob_t found{};
    const int rc = glob(pattern.c_str(), 0, nullptr, &found);
    std::vector<std::string> paths;
    if (rc == 0) paths.assign(found.gl_pathv, found.gl_pathv + found.gl_pathc);
    globfree(&found);
    if (paths.empty()) {
      ctx_.Notice(line_no, "include '" + Shown(value) + "' matched no file");
      return;
    }
    std::sort(paths.begin(), paths.end());
    for (const std::string& path : paths) IncludeFile(path, line_no);
  }

  void IncludeFile(const std::string& path, int line_no) {
    const std::string key = FileKey(path);
    auto cycle = std::find(include_stack_.begin(), include_stack_.end(), key.empty() ? path : key);
    if (cycle != include_stack_.end()) {
      std::string chain;
      for (auto it = cycle; it != include_stack_.end(); ++it) chain += *it + " -> ";
      ctx_.Error(line_no, "include cycle: " + chain + path);
      return;
    }
    if (include_stack_.size() > kMaxIncludeDepth) {
      ctx_.Error(line_no, "includes nested more than " + std::to_string(kMaxIncludeDepth) +
                              " deep at '" + path + "'");
      return;
    }
    if (summary_.files >= kMaxFiles) {
      if (!too_many_files_) {
        ctx_.Error(line_no, "more than " + std::to_string(kMaxFiles) + " files included; '" +
                                Shown(path) + "' and any further ones are not read");
      }
      too_many_files_ = true;
      return;
    }
    // Only regular files: a device or a FIFO (include /dev/zero) would never end or block.
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (!ec && std::filesystem::exists(status) && !std::filesystem::is_regular_file(status)) {
      ctx_.Error(line_no, "included '" + Shown(path) + "' is not a regular file");
      return;
    }
    errno = 0;
    std::optional<std::string> text = ReadFile(path);
    if (!text) {
      ctx_.Error(line_no,
                 "cannot read included file '" + Shown(path) + "': " + std::strerror(errno));
      return;
    }
    FlushContinuation();
    const std::string saved_file = ctx_.file, saved_dir = ctx_.base_dir;
    const std::size_t saved_floor = floor_;
    ctx_.file = path;
    ctx_.base_dir = DirectoryOf(path);
    config_->files.push_back(path);
    ++summary_.files;
    floor_ = stack_.size();
    include_stack_.push_back(key.empty() ? path : key);
    ReadText(*text);
    include_stack_.pop_back();
    for (std::size_t i = floor_; i < stack_.size(); ++i) {
      ctx_.Error(stack_[i].line, "section " + stack_[i].Describe() +
                                     " opened here is not closed in this included file");
    }
    stack_.resize(floor_);
    floor_ = saved_floor;
    ctx_.file = saved_file;
    ctx_.base_dir = saved_dir;
  }

  std::shared_ptr<Config> config_ = std::make_shared<Config>();
  std::vector<ConfigError> errors_;
  std::vector<ConfigError> notices_;
  ConfigSummary summary_;
  ParseContext ctx_;
  std::vector<Frame> stack_;
  std::size_t floor_ = 1;  // stack_ entries below this belong to including files
  std::vector<std::string> include_stack_;
  bool too_many_files_ = false;
  std::string pending_;  // a directive whose value ended with a comma
  int pending_line_ = 0;
  std::map<std::string, std::pair<std::string, int>> sections_;  // "tag key" -> where, duplicates
  SectionOrigins origins_;
};

}  // namespace

LoadResult ParseConfig(const std::string& text, const std::string& name) {
  std::string base;
  if (name.find('/') != std::string::npos) base = DirectoryOf(name);
  return Parser().Run(text, name, base);
}

LoadResult LoadConfig(const std::string& path) {
  errno = 0;
  std::optional<std::string> text = ReadFile(path);
  if (!text) {
    LoadResult r;
    r.errors.push_back(ConfigError{path, 0, std::string("cannot open: ") + std::strerror(errno)});
    return r;
  }
  return Parser().Run(*text, path, DirectoryOf(path));
}

}  // namespace outpost::config
