// docs/config.md documents every directive of the tables, with the tables' syntax, default and
// implementation status, and documents no directive the tables do not have.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "mta/config/internal.hpp"

namespace outpost::config {
namespace {

struct DocSection {
  std::string heading;
  std::string body;
  std::map<std::string, std::string> directives;  // "### `name`" -> its text
};

std::vector<DocSection> ReadDocs() {
  std::ifstream in(OUTPOST_SOURCE_DIR "/docs/config.md");
  EXPECT_TRUE(in) << "cannot open " << OUTPOST_SOURCE_DIR "/docs/config.md";
  std::vector<DocSection> sections;
  std::string line, current_directive;
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) {
      sections.push_back(DocSection{line, "", {}});
      current_directive.clear();
      continue;
    }
    if (sections.empty()) continue;
    if (line.rfind("### ", 0) == 0) {
      current_directive = line.substr(4);
      sections.back().directives[current_directive] = "";
      continue;
    }
    if (current_directive.empty()) {
      sections.back().body += line + "\n";
    } else {
      sections.back().directives[current_directive] += line + "\n";
    }
  }
  return sections;
}

const DocSection* SectionFor(const std::vector<DocSection>& docs, const ScopeSpec& scope) {
  std::string want = scope.scope == Scope::kGlobal ? std::string(scope.title)
                                                   : "`" + std::string(scope.title) + "`";
  for (const DocSection& s : docs) {
    if (s.heading.find(want) != std::string::npos) return &s;
  }
  return nullptr;
}

TEST(Docs, EveryDirectiveIsDocumentedAsInTheTable) {
  std::vector<DocSection> docs = ReadDocs();
  for (const ScopeSpec& scope : Scopes()) {
    const DocSection* section = SectionFor(docs, scope);
    ASSERT_NE(section, nullptr) << "docs/config.md has no '## ' heading for " << scope.title;
    if (scope.scope != Scope::kGlobal) {
      std::string tag = "`<" + std::string(scope.tag) +
                        (*scope.arg_syntax != 0 ? " " + std::string(scope.arg_syntax) : "") + ">`";
      EXPECT_NE(section->body.find(tag), std::string::npos)
          << scope.title << ": section syntax " << tag << " not shown";
    }
    for (const DirectiveSpec& d : *scope.directives) {
      std::string key = "`" + std::string(d.name) + "`";
      auto it = section->directives.find(key);
      if (it == section->directives.end()) {
        ADD_FAILURE() << "docs/config.md, " << scope.title << ": no '### " << key << "'";
        continue;
      }
      const std::string& text = it->second;
      EXPECT_NE(text.find("Syntax: `" + std::string(d.syntax) + "`"), std::string::npos)
          << d.name << ": syntax differs from the table";
      EXPECT_NE(text.find("Default: " + std::string(d.default_text)), std::string::npos)
          << d.name << ": default differs from the table";
      EXPECT_NE(text.find("Implemented by: " + std::string(ImplementationText(d.impl))),
                std::string::npos)
          << d.name << ": implementation status differs from the table";
    }
  }
}

TEST(Docs, NoDirectiveIsDocumentedThatTheTablesLack) {
  std::vector<DocSection> docs = ReadDocs();
  for (const ScopeSpec& scope : Scopes()) {
    const DocSection* section = SectionFor(docs, scope);
    ASSERT_NE(section, nullptr) << scope.title;
    for (const auto& [heading, text] : section->directives) {
      std::string name = heading.size() > 2 ? heading.substr(1, heading.size() - 2) : heading;
      EXPECT_NE(FindDirective(scope, name), nullptr)
          << "docs/config.md documents '" << name << "' in " << scope.title
          << " but the parser does not know it";
    }
  }
}

TEST(Docs, EveryPowerMtaNameOutpostLacksIsListed) {
  std::vector<DocSection> docs = ReadDocs();
  const DocSection* section = nullptr;
  for (const DocSection& s : docs) {
    if (s.heading == "## PowerMTA directives Outpost does not implement") section = &s;
  }
  ASSERT_NE(section, nullptr) << "docs/config.md has no PowerMTA directives section";
  for (const PowerMtaName& n : PowerMtaDirectives()) {
    EXPECT_NE(section->body.find("| `" + std::string(n.name) + "` |"), std::string::npos)
        << n.name << " is not listed in docs/config.md";
  }
  for (const PowerMtaName& n : PowerMtaSections()) {
    EXPECT_NE(section->body.find("| `<" + std::string(n.name) + ">` |"), std::string::npos)
        << "<" << n.name << "> is not listed in docs/config.md";
  }
}

}  // namespace
}  // namespace outpost::config
