#include "common/provider_map.hpp"

#include <cctype>
#include <fstream>
#include <sstream>

#include "common/strings.hpp"

namespace outpost {

ProviderMap::ProviderMap() { providers_.push_back("other"); }

void ProviderMap::Add(const std::string& domain, const std::string& provider) {
  std::uint16_t idx = IndexOfProvider(provider);
  if (provider != "other" && idx == 0) {
    providers_.push_back(provider);
    idx = static_cast<std::uint16_t>(providers_.size() - 1);
  }
  domains_[domain] = idx;
}

std::uint16_t ProviderMap::IndexOfProvider(std::string_view name) const {
  for (std::size_t i = 0; i < providers_.size(); ++i) {
    if (providers_[i] == name) return static_cast<std::uint16_t>(i);
  }
  return 0;
}

std::optional<std::uint16_t> ProviderMap::FindExact(const std::string& domain) const {
  auto it = domains_.find(domain);
  if (it == domains_.end()) return std::nullopt;
  return it->second;
}

ProviderMap ProviderMap::Defaults() {
  static constexpr const char* kDefaults[][2] = {
      {"gmail.com", "gmail"},
      {"googlemail.com", "gmail"},
      {"outlook.com", "microsoft"},
      {"hotmail.com", "microsoft"},
      {"live.com", "microsoft"},
      {"msn.com", "microsoft"},
      {"hotmail.co.uk", "microsoft"},
      {"hotmail.fr", "microsoft"},
      {"hotmail.de", "microsoft"},
      {"outlook.de", "microsoft"},
      {"live.co.uk", "microsoft"},
      {"yahoo.com", "yahoo"},
      {"ymail.com", "yahoo"},
      {"rocketmail.com", "yahoo"},
      {"yahoo.co.uk", "yahoo"},
      {"yahoo.fr", "yahoo"},
      {"yahoo.de", "yahoo"},
      {"yahoo.co.jp", "yahoo"},
      {"aol.com", "aol"},
      {"aim.com", "aol"},
      {"icloud.com", "apple"},
      {"me.com", "apple"},
      {"mac.com", "apple"},
      {"comcast.net", "comcast"},
      {"gmx.de", "gmx"},
      {"gmx.net", "gmx"},
      {"gmx.com", "gmx"},
      {"gmx.at", "gmx"},
      {"gmx.ch", "gmx"},
      {"web.de", "gmx"},
  };
  ProviderMap m;
  for (const auto& [domain, provider] : kDefaults) m.Add(domain, provider);
  return m;
}

std::optional<ProviderMap> ProviderMap::Parse(std::string_view text, std::string* error) {
  ProviderMap m;
  std::istringstream in{std::string(text)};
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    std::istringstream fields(line);
    std::string domain, provider, extra;
    if (!(fields >> domain)) continue;
    if (!(fields >> provider) || (fields >> extra)) {
      if (error) *error = "line " + std::to_string(lineno) + ": expected \"domain provider\"";
      return std::nullopt;
    }
    AsciiLowercaseInPlace(domain);
    for (char c : provider) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') {
        if (error) *error = "line " + std::to_string(lineno) + ": bad provider name " + provider;
        return std::nullopt;
      }
    }
    m.Add(domain, provider);
  }
  return m;
}

std::optional<ProviderMap> ProviderMap::LoadFile(const std::string& path, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    if (error) *error = "cannot read provider map " + path;
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string err;
  auto m = Parse(ss.str(), &err);
  if (!m && error) *error = path + ": " + err;
  return m;
}

std::uint16_t ProviderResolver::Resolve(std::string_view domain) {
  if (domain.empty()) return 0;
  const std::uint64_t h = LabelCache::Hash(domain);
  std::uint16_t idx = 0;
  if (memo_.Find(domain, h, &idx)) return idx;
  std::string probe(domain);
  for (char& c : probe) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  for (;;) {
    if (auto hit = map_.FindExact(probe)) {
      idx = *hit;
      break;
    }
    std::size_t dot = probe.find('.');
    if (dot == std::string::npos) break;
    probe.erase(0, dot + 1);
  }
  memo_.Insert(domain, h, idx);
  return idx;
}

}  // namespace outpost
