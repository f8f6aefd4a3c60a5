#include "tools/load/load_options.hpp"

#include <cctype>
#include <charconv>
#include <cstdlib>

namespace outpost::load {
namespace {

template <typename T>
bool ParseUnsigned(std::string_view s, T* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::optional<std::uint64_t> LoadOptions::MessageBudget() const {
  if (messages) return messages;
  if (duration) return std::nullopt;
  return 1000;
}

std::optional<std::uint64_t> ParseSize(std::string_view text) {
  std::uint64_t multiplier = 1;
  if (!text.empty()) {
    char suffix = static_cast<char>(std::tolower(static_cast<unsigned char>(text.back())));
    if (suffix == 'k') multiplier = 1024;
    if (suffix == 'm') multiplier = 1024 * 1024;
    if (multiplier != 1) text.remove_suffix(1);
  }
  std::uint64_t value = 0;
  if (!ParseUnsigned(text, &value)) return std::nullopt;
  return value * multiplier;
}

std::optional<std::chrono::milliseconds> ParseLoadDuration(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  std::uint64_t value = 0;
  if (!ParseUnsigned(text.substr(0, digits), &value)) return std::nullopt;
  std::string_view unit = text.substr(digits);
  if (unit == "ms") return std::chrono::milliseconds(value);
  if (unit == "s" || unit.empty()) return std::chrono::milliseconds(value * 1000);
  if (unit == "m") return std::chrono::milliseconds(value * 60'000);
  if (unit == "h") return std::chrono::milliseconds(value * 3'600'000);
  return std::nullopt;
}

std::optional<std::vector<DomainWeight>> ParseDomainMix(std::string_view text) {
  std::vector<DomainWeight> mix;
  while (!text.empty()) {
    std::size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    DomainWeight w;
    std::size_t colon = item.find(':');
    w.domain = std::string(item.substr(0, colon));
    if (colon != std::string_view::npos && !ParseUnsigned(item.substr(colon + 1), &w.weight)) {
      return std::nullopt;
    }
    if (w.domain.empty() || w.weight == 0) return std::nullopt;
    mix.push_back(std::move(w));
  }
  if (mix.empty()) return std::nullopt;
  return mix;
}

std::optional<LoadOptions> ParseLoadArgs(const std::vector<std::string>& args, std::string* error) {
  LoadOptions o;
  std::string target;
  for (std::size_t i = 0; i < args.size(); ++i) {
    // Both `--flag VALUE` and `--flag=VALUE` (as docker-compose.yml and users write it).
    std::string flag = args[i];
    std::optional<std::string> inline_value;
    if (std::size_t eq = flag.find('='); flag.rfind("--", 0) == 0 && eq != std::string::npos) {
      inline_value = flag.substr(eq + 1);
      flag.resize(eq);
    }
    auto bad = [&](const std::string& why) {
      *error = args[i] + ": " + why;
      return std::nullopt;
    };
    if (flag == "--no-pipelining" || flag == "--json") {
      if (inline_value) return bad("takes no value");
      if (flag == "--json") {
        o.json = true;
      } else {
        o.pipelining = false;
      }
      continue;
    }
    if (flag.rfind("--", 0) != 0) {
      if (!target.empty()) return bad("more than one target");
      target = flag;
      continue;
    }
    if (!inline_value && i + 1 >= args.size()) return bad("missing value");
    const std::string v = inline_value ? *inline_value : args[++i];
    if (flag == "--target") {
      target = v;
    } else if (flag == "--sessions") {
      if (!ParseUnsigned(v, &o.sessions) || o.sessions == 0) return bad("expected a number > 0");
    } else if (flag == "--messages") {
      std::uint64_t n = 0;
      if (!ParseUnsigned(v, &n)) return bad("expected a number");
      o.messages = n;
    } else if (flag == "--duration") {
      o.duration = ParseLoadDuration(v);
      if (!o.duration) return bad("expected a duration like 30s");
    } else if (flag == "--size") {
      auto size = ParseSize(v);
      if (!size) return bad("expected a size like 4k");
      o.size = *size;
    } else if (flag == "--rcpts") {
      if (!ParseUnsigned(v, &o.rcpts) || o.rcpts == 0) return bad("expected a number > 0");
    } else if (flag == "--domains") {
      auto mix = ParseDomainMix(v);
      if (!mix) return bad("expected domain:weight,domain:weight");
      o.domains = std::move(*mix);
    } else if (flag == "--rate") {
      char* end = nullptr;
      o.rate = std::strtod(v.c_str(), &end);
      if (end == v.c_str() || *end != '\0' || o.rate < 0) return bad("expected a rate >= 0");
    } else if (flag == "--msgs-per-conn") {
      if (!ParseUnsigned(v, &o.msgs_per_conn)) return bad("expected a number");
    } else if (flag == "--from") {
      o.from = v;
    } else if (flag == "--helo") {
      o.helo = v;
    } else if (flag == "--timeout") {
      auto t = ParseLoadDuration(v);
      if (!t || t->count() == 0) return bad("expected a duration like 30s");
      o.timeout = *t;
    } else if (flag == "--ids-file") {
      o.ids_file = v;
    } else {
      return bad("unknown flag");
    }
  }
  if (target.empty()) {
    *error = "no target HOST:PORT given";
    return std::nullopt;
  }
  std::size_t colon = target.rfind(':');
  if (colon == std::string::npos || !ParseUnsigned(target.substr(colon + 1), &o.port)) {
    *error = "target must be HOST:PORT";
    return std::nullopt;
  }
  o.host = target.substr(0, colon);
  if (o.host.size() >= 2 && o.host.front() == '[' && o.host.back() == ']') {
    o.host = o.host.substr(1, o.host.size() - 2);
  }
  return o;
}

DomainPicker::DomainPicker(std::vector<DomainWeight> mix)
    : mix_(std::move(mix)), current_(mix_.size(), 0) {
  for (const auto& d : mix_) total_ += d.weight;
}

const std::string& DomainPicker::Next() {
  std::size_t best = 0;
  for (std::size_t i = 0; i < mix_.size(); ++i) {
    current_[i] += mix_[i].weight;
    if (current_[i] > current_[best]) best = i;
  }
  current_[best] -= total_;
  return mix_[best].domain;
}

}  // namespace outpost::load
