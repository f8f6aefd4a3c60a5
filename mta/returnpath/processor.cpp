#include "mta/returnpath/processor.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <optional>

#include "common/strings.hpp"
#include "mta/log/log.hpp"
#include "mta/returnpath/records.hpp"
#include "mta/returnpath/suppression_sink.hpp"

namespace outpost::returnpath {

namespace {

int Index(Route route) { return route == Route::kBounce ? 0 : 1; }

const char* Name(Route route) { return route == Route::kBounce ? "bounce" : "feedback-loop"; }

// Writes `data` to `path` durably: a temporary file, fsync, rename, fsync of the directory.
bool WriteDurably(const std::string& dir, const std::string& name, const std::string& data) {
  const std::string tmp = dir + "/." + name + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return false;
  std::size_t written = 0;
  while (written < data.size()) {
    const ssize_t n = ::write(fd, data.data() + written, data.size() - written);
    if (n <= 0) break;
    written += static_cast<std::size_t>(n);
  }
  const bool ok = written == data.size() && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), (dir + "/" + name).c_str()) != 0) {
    ::unlink(tmp.c_str());
    return false;
  }
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return true;
}

}  // namespace

Route RouteOf(const config::Config& config, const std::string& recipient) {
  if (!config.bounce_processor && !config.feedback_loop_processor) return Route::kNone;
  const std::string lower = AsciiLowercase(recipient);
  if (config.bounce_processor && config.bounce_processor->address_list.Matches(lower)) {
    return Route::kBounce;
  }
  if (config.feedback_loop_processor &&
      config.feedback_loop_processor->address_list.Matches(lower)) {
    return Route::kFeedback;
  }
  return Route::kNone;
}

bool HasReportRecipient(const config::Config& config, const spool::Envelope& envelope,
                        const std::vector<bool>* done) {
  for (std::size_t i = 0; i < envelope.recipients.size(); ++i) {
    if (done != nullptr && i < done->size() && (*done)[i]) continue;
    if (RouteOf(config, envelope.recipients[i]) != Route::kNone) return true;
  }
  return false;
}

Processor::Processor(std::shared_ptr<const config::Config> config, spool::Spool& spool,
                     acct::AccountingLog& accounting, std::string keep_dir, Hooks hooks)
    : config_(std::move(config)),
      spool_(spool),
      accounting_(accounting),
      classifier_(*config_),
      keep_dir_(std::move(keep_dir)),
      hooks_(std::move(hooks)),
      worker_([this] { Run(); }) {}

Processor::~Processor() { Stop(); }

void Processor::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
}

bool Processor::Take(const spool::SpoolId& id, const spool::Envelope& envelope, std::uint64_t size,
                     const std::vector<bool>* done) {
  if (!HasReportRecipient(*config_, envelope, done)) return false;
  Job job{spool::RecoveredMessage{id, envelope, size, {}}};
  job.message.done_recipients.assign(envelope.recipients.size(), false);
  if (done != nullptr) {
    for (std::size_t i = 0; i < done->size() && i < envelope.recipients.size(); ++i) {
      job.message.done_recipients[i] = (*done)[i];
    }
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    jobs_.push_back(std::move(job));
  }
  wake_.notify_one();
  return true;
}

ProcessorStats Processor::Stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void Processor::Run() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;  // the rest stays in the spool for the next start
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    Process(job);
  }
}

void Processor::Process(Job& job) {
  spool::RecoveredMessage& m = job.message;
  std::string data;
  if (!spool_.ReadData(m.id, data)) {
    OUTPOST_LOG(kError, "returnpath") << m.envelope.id << " cannot be read from the spool";
    return;
  }
  std::optional<Disposition> by_route[2];
  std::vector<std::uint32_t> finished;
  bool left = false;
  for (std::uint32_t i = 0; i < m.envelope.recipients.size(); ++i) {
    if (m.done_recipients[i]) continue;
    const Route route = RouteOf(*config_, m.envelope.recipients[i]);
    if (route == Route::kNone) {
      left = true;
      continue;
    }
    std::optional<Disposition>& d = by_route[Index(route)];
    if (!d) d = Handle(route, m.envelope, data, m.envelope.recipients[i]);
    if (*d == Disposition::kFinish) {
      finished.push_back(i);
    } else {
      left = left || *d == Disposition::kDeliver;
    }
  }
  accounting_.Flush();
  const bool durable =
      accounting_.Durable() && (!hooks_.sync_suppressions || hooks_.sync_suppressions());
  for (std::uint32_t i : finished) {
    m.done_recipients[i] = true;
    if (durable) spool_.MarkRecipientDone(m.id, i);
  }
  if (!left) return;  // finished (the spool drops the message with its last recipient) or kept
  hooks_.post([this, message = std::move(m)]() mutable { hooks_.deliver(std::move(message)); });
}

Processor::Disposition Processor::Handle(Route route, const spool::Envelope& envelope,
                                         const std::string& data, const std::string& recipient) {
  const config::ReportProcessor& conf =
      route == Route::kBounce ? *config_->bounce_processor : *config_->feedback_loop_processor;
  const Report report =
      route == Route::kBounce ? ParseBounce(data, recipient) : ParseFeedback(data, recipient);
  if (report.understood) {
    Record(route, report, envelope);
    return conf.deliver_matched_email ? Disposition::kDeliver : Disposition::kFinish;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.unmatched[Index(route)];
  }
  const bool deliver = conf.deliver_unmatched_email;
  const bool kept = !deliver && Keep(envelope, data);
  OUTPOST_LOG(kWarning, "returnpath")
      << envelope.id << " to <" << recipient << "> is not a " << Name(route)
      << " report Outpost understands (" << report.problem << "); "
      << (deliver ? "delivered (deliver-unmatched-email yes)"
          : kept  ? "kept in " + keep_dir_ + "/" + envelope.id + ".eml"
                  : "could not be kept; it stays in the spool");
  if (deliver) return Disposition::kDeliver;
  return kept ? Disposition::kFinish : Disposition::kRetain;
}

void Processor::Record(Route route, const Report& report, const spool::Envelope& envelope) {
  const std::int64_t now = hooks_.now();
  std::uint64_t records = 0;
  if (route == Route::kBounce) {
    for (const FailedRecipient& failed : report.failed) {
      const delivery::BounceCategory category = classifier_.BounceCategory(ReplyOf(failed));
      accounting_.Write(RemoteBounceRecord(report, failed, category, envelope, now));
      daily_.Add(RecordKind::kRemoteBounce, failed.recipient, now);
      ++records;
      if (hooks_.suppress && HardBounce(category)) {
        hooks_.suppress(suppression::Kind::kHardBounce, failed.recipient);
      }
      OUTPOST_LOG(kInfo, "returnpath")
          << envelope.id << " remote bounce (" << report.format << ") rcpt=<" << failed.recipient
          << "> status=" << failed.status << " category=" << delivery::BounceCategoryName(category)
          << " job=" << report.job_id;
    }
  } else {
    accounting_.Write(FeedbackRecord(report, envelope, now));
    if (IsComplaint(report.feedback_type))
      daily_.Add(RecordKind::kComplaint, report.complainer, now);
    ++records;
    if (hooks_.suppress) hooks_.suppress(suppression::Kind::kComplaint, report.complainer);
    OUTPOST_LOG(kInfo, "returnpath")
        << envelope.id << " complaint (" << report.format << ", " << report.feedback_type
        << ") rcpt=<" << report.complainer << "> job=" << report.job_id;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  ++stats_.understood[Index(route)];
  stats_.records += records;
}

bool Processor::Keep(const spool::Envelope& envelope, const std::string& data) {
  std::error_code ec;
  std::filesystem::create_directories(keep_dir_, ec);
  const std::string name = envelope.id + ".eml";
  if (std::filesystem::exists(keep_dir_ + "/" + name, ec)) return true;
  if (!ec && WriteDurably(keep_dir_, name, data)) return true;
  std::lock_guard<std::mutex> lock(mutex_);
  ++stats_.keep_errors;
  return false;
}

}  // namespace outpost::returnpath
