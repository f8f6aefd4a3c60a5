#include "mta/returnpath/daily_counts.hpp"

#include "common/time_format.hpp"

namespace outpost::returnpath {

namespace {

std::int64_t DayOf(std::int64_t unix_seconds) {
  return unix_seconds >= 0 ? unix_seconds / 86400 : (unix_seconds - 86399) / 86400;
}

std::string_view DomainOf(std::string_view address) {
  const std::size_t at = address.rfind('@');
  return at == std::string_view::npos ? std::string_view() : address.substr(at + 1);
}

}  // namespace

bool IsComplaint(std::string_view feedback_type) {
  return feedback_type != "not-spam" && feedback_type != "auth-failure";
}

DailyCounts::DailyCounts() : map_(ProviderMap::Defaults()), resolver_(map_) {}

void DailyCounts::Add(RecordKind kind, std::string_view recipient, std::int64_t now_unix) {
  std::lock_guard lock(mu_);
  const std::int64_t day = DayOf(now_unix);
  if (day != day_) {
    day_ = day;
    counts_.assign(map_.providers().size(), ProviderDay{});
  }
  ProviderDay& p = counts_[resolver_.Resolve(DomainOf(recipient))];
  ++(kind == RecordKind::kRemoteBounce ? p.remote_bounces : p.complaints);
}

DayCounts DailyCounts::Today(std::int64_t now_unix) const {
  DayCounts out;
  const std::int64_t day = DayOf(now_unix);
  out.day = timefmt::FormatAcctTimeUtc(day * 86400).substr(0, 10);
  std::lock_guard lock(mu_);
  if (day != day_) return out;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i].remote_bounces == 0 && counts_[i].complaints == 0) continue;
    ProviderDay p = counts_[i];
    p.provider = map_.providers()[i];
    out.by_provider.push_back(std::move(p));
  }
  return out;
}

}  // namespace outpost::returnpath
