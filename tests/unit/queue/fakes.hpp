// Test doubles for the queue manager: a spool, an accounting sink and a deliverer that record
// what they were asked, in one shared call log (so tests can check the commit order), and a
// harness that drives the manager over simulated time.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "mta/acct/outcome_record.hpp"
#include "mta/config/config.hpp"
#include "mta/queue/deliverer.hpp"
#include "mta/queue/queue_manager.hpp"
#include "mta/spool/spool.hpp"

namespace outpost::queue::testing {

struct CallLog {
  std::vector<std::string> events;
  void Add(std::string e) { events.push_back(std::move(e)); }
};

// Not thread-safe. Commit() answers synchronously.
class FakeSpool final : public spool::Spool {
 public:
  explicit FakeSpool(CallLog* log) : log_(log) {}
  spool::RecoveryReport Recover(const std::function<void(spool::RecoveredMessage&&)>&) override {
    return {};
  }
  void Start() override {}
  void Stop() override {}
  void Commit(spool::SpoolMessage message, spool::CommitHandler done) override {
    if (fail_commits) {
      log_->Add("commit-failed");
      done(spool::CommitStatus::kDiskFull, {});
      return;
    }
    spool::SpoolId id = Add(std::move(message));
    committed.push_back(id);
    log_->Add("commit:" + messages_[id.offset].envelope.id);
    done(spool::CommitStatus::kOk, id);
  }
  spool::SpoolId Add(spool::SpoolMessage message) {
    spool::SpoolId id{1, next_++};
    messages_[id.offset] = std::move(message);
    return id;
  }
  bool ReadData(spool::SpoolId id, std::string& data) const override {
    auto it = messages_.find(id.offset);
    if (it == messages_.end()) return false;
    data = it->second.data;
    return true;
  }
  bool ReadEnvelope(spool::SpoolId id, spool::Envelope& envelope) const override {
    auto it = messages_.find(id.offset);
    if (it == messages_.end()) return false;
    envelope = it->second.envelope;
    return true;
  }
  void MarkRecipientDone(spool::SpoolId id, std::uint32_t index) override {
    log_->Add("done-rcpt:" + messages_[id.offset].envelope.id + ":" + std::to_string(index));
  }
  void MarkMessageDone(spool::SpoolId id) override {
    log_->Add("done-msg:" + messages_[id.offset].envelope.id);
    done_messages.insert(messages_[id.offset].envelope.id);
  }
  bool Healthy() const override { return true; }
  spool::SpoolStats Stats() const override { return {}; }

  const spool::SpoolMessage& Get(spool::SpoolId id) { return messages_[id.offset]; }

  bool fail_commits = false;
  std::vector<spool::SpoolId> committed;
  std::set<std::string> done_messages;

 private:
  CallLog* log_;
  std::uint64_t next_ = 1;
  std::map<std::uint64_t, spool::SpoolMessage> messages_;
};

// Not thread-safe.
// Records each outcome as the accounting file would (acct::OutcomeRecord), so the tests check
// the records operators see.
class FakeSink final : public OutcomeSink {
 public:
  explicit FakeSink(CallLog* log) : log_(log) {}
  void Write(const Outcome& outcome) override {
    outcomes.push_back(outcome);
    acct::Record record = acct::OutcomeRecord(outcome);
    records.push_back(record);
    log_->Add("write:" + std::string(acct::RecordTypeCode(record.type)) + ":" +
              record[acct::Field::kRcpt]);
  }
  void Flush() override { log_->Add("flush"); }
  bool Durable() const override { return durable; }
  std::vector<acct::Record> Of(acct::RecordType type) const {
    std::vector<acct::Record> out;
    for (const auto& r : records) {
      if (r.type == type) out.push_back(r);
    }
    return out;
  }
  std::vector<acct::Record> records;
  std::vector<Outcome> outcomes;
  bool durable = true;  // false: as an accounting log on a full disk

 private:
  CallLog* log_;
};

inline delivery::Reply MakeReply(int code, std::string enhanced, std::string text) {
  delivery::Reply r;
  r.code = code;
  r.enhanced = std::move(enhanced);
  r.text = std::move(text);
  return r;
}

// Answers at once (auto modes) or when the test completes pending operations. Not thread-safe.
class FakeDeliverer final : public Deliverer {
 public:
  explicit FakeDeliverer(const Clock* clock) : clock_(clock) {}

  struct Sent {
    ConnectionId connection;
    MonoTime at;
    BatchRequest batch;
  };

  void Connect(const ConnectRequest& request, std::function<void(ConnectOutcome)> done) override {
    requests.push_back(request);
    ++open;
    ++open_by_source[request.source_address];
    max_open = std::max(max_open, open);
    max_open_by_source[request.source_address] = std::max(
        max_open_by_source[request.source_address], open_by_source[request.source_address]);
    connect_times.push_back(clock_->Now().mono);
    pending_connects.emplace_back(request, std::move(done));
    if (auto_connect) CompleteConnects();
  }
  void CompleteConnects() {
    auto pending = std::move(pending_connects);
    pending_connects.clear();
    for (auto& [request, done] : pending) {
      ConnectOutcome o;
      o.status =
          perm_fail_domains.count(request.domain) ? ConnectStatus::kPermFail : connect_status;
      if (o.status == ConnectStatus::kOk) {
        o.id = next_id_++;
        source_of_[o.id] = request.source_address;
        o.remote_mta = "mx.sim.test (127.0.0.1)";
        o.remote_address = "127.0.0.1";
        o.local_address = request.source_address.empty() ? "127.0.0.1" : request.source_address;
        o.esmtp_available = "PIPELINING,8BITMIME,SIZE";
      } else {
        o.error = connect_error;
        --open;
        --open_by_source[request.source_address];
      }
      done(std::move(o));
    }
  }
  void Send(ConnectionId connection, BatchRequest batch,
            std::function<void(BatchOutcome)> done) override {
    sent.push_back(Sent{connection, clock_->Now().mono, batch});
    ++per_connection[connection];
    pending_sends.emplace_back(sent.back(), std::move(done));
    if (auto_send) CompleteSends();
  }
  void CompleteSends(std::size_t max = SIZE_MAX) {
    std::size_t n = std::min(max, pending_sends.size());
    std::vector<std::pair<Sent, std::function<void(BatchOutcome)>>> now(
        pending_sends.begin(), pending_sends.begin() + static_cast<std::ptrdiff_t>(n));
    pending_sends.erase(pending_sends.begin(),
                        pending_sends.begin() + static_cast<std::ptrdiff_t>(n));
    for (auto& [s, done] : now) {
      BatchOutcome out;
      out.result.mail_reply = MakeReply(250, "2.1.0", "ok");
      for (const auto& rcpt : s.batch.recipients) {
        delivery::Reply r = reply_for ? reply_for(rcpt) : MakeReply(250, "2.0.0", "ok");
        out.result.rcpt_replies.push_back(r.Positive() ? MakeReply(250, "2.1.5", "ok") : r);
      }
      out.result.data_reply = MakeReply(250, "2.0.0", "ok queued");
      done(std::move(out));
    }
  }
  // mx_hosts[domain] answers; an unknown domain is NXDOMAIN (kPermFail).
  void ResolveMxHosts(const std::string& domain, std::function<void(MxHostsAnswer)> done) override {
    mx_queries.push_back(domain);
    MxHostsAnswer answer;
    auto it = mx_hosts.find(domain);
    if (it != mx_hosts.end()) {
      answer = it->second;
    } else {
      answer.status = ConnectStatus::kPermFail;
      answer.error = domain + ": NXDOMAIN";
    }
    done(std::move(answer));
  }
  static MxHostsAnswer Hosts(std::vector<std::string> hosts) {
    MxHostsAnswer a;
    a.status = ConnectStatus::kOk;
    a.hosts = std::move(hosts);
    return a;
  }
  // The socket counts as open until the close completes (at once unless !auto_close).
  void Close(ConnectionId connection, std::function<void()> closed) override {
    ++closes;
    pending_closes.emplace_back(connection, std::move(closed));
    if (auto_close) CompleteCloses();
  }
  void CompleteCloses() {
    auto pending = std::move(pending_closes);
    pending_closes.clear();
    for (auto& [connection, closed] : pending) {
      --open;
      --open_by_source[source_of_[connection]];
      closed();
    }
  }

  std::size_t RecipientsSent() const {
    std::size_t n = 0;
    for (const auto& s : sent) n += s.batch.recipients.size();
    return n;
  }

  bool auto_connect = true;
  bool auto_send = true;
  bool auto_close = true;
  ConnectStatus connect_status = ConnectStatus::kOk;
  std::string connect_error = "connect to 127.0.0.1:25: Connection refused";
  std::function<delivery::Reply(const std::string& rcpt)> reply_for;
  std::set<std::string> perm_fail_domains;  // Connect() for these answers kPermFail
  std::map<std::string, MxHostsAnswer> mx_hosts;
  std::vector<std::string> mx_queries;

  int open = 0;
  int max_open = 0;
  int closes = 0;
  std::map<std::string, int> open_by_source;
  std::map<std::string, int> max_open_by_source;
  std::vector<ConnectRequest> requests;
  std::vector<MonoTime> connect_times;
  std::vector<Sent> sent;
  std::map<ConnectionId, int> per_connection;
  std::vector<std::pair<ConnectRequest, std::function<void(ConnectOutcome)>>> pending_connects;
  std::vector<std::pair<Sent, std::function<void(BatchOutcome)>>> pending_sends;
  std::vector<std::pair<ConnectionId, std::function<void()>>> pending_closes;

 private:
  const Clock* clock_;
  ConnectionId next_id_ = 1;
  std::map<ConnectionId, std::string> source_of_;
};

inline std::shared_ptr<const config::Config> ParseOrDie(const std::string& body) {
  config::LoadResult r = config::ParseConfig(
      "smtp-listener 127.0.0.1:0\nspool /tmp/outpost-queue-test\nhost-name outpost.test\n" + body);
  std::string errors;
  for (const auto& e : r.errors) errors += e.ToString() + "\n";
  EXPECT_TRUE(r.errors.empty()) << errors;
  return r.config;
}

// A manager over fakes and a simulated clock.
struct Harness {
  explicit Harness(const std::string& config_text, QueueManagerOptions options = {})
      : spool(&log), sink(&log), deliverer(&clock), config(ParseOrDie(config_text)) {
    options.host_name = "outpost.test";
    manager = std::make_unique<QueueManager>(config, options, clock, spool, sink, deliverer);
  }

  spool::Envelope MakeEnvelope(const std::string& from, const std::vector<std::string>& rcpts,
                               const std::string& vmta = "") {
    spool::Envelope env;
    env.id = "Q" + std::to_string(++injected);
    env.time_queued = clock.Now().unix_seconds();
    env.mail_from = from;
    env.recipients = rcpts;
    env.vmta = vmta;
    env.source_ip = "127.0.0.1";
    env.source_helo = "app.test";
    env.job_id = "job1";
    return env;
  }

  spool::SpoolId Inject(const std::string& from, const std::vector<std::string>& rcpts,
                        const std::string& vmta = "") {
    return InjectEnvelope(MakeEnvelope(from, rcpts, vmta));
  }

  spool::SpoolId InjectEnvelope(spool::Envelope envelope) {
    spool::SpoolMessage m;
    m.envelope = std::move(envelope);
    m.data = "Subject: test " + m.envelope.id + "\r\nMessage-ID: <" + m.envelope.id +
             "@app.test>\r\n\r\nbody\r\n";
    spool::Envelope env = m.envelope;
    std::uint64_t size = m.data.size();
    spool::SpoolId id = spool.Add(std::move(m));
    manager->Enqueue(id, env, size);
    return id;
  }

  // Runs the manager over `d` of simulated time, jumping from wake-up to wake-up.
  void RunFor(Nanos d) {
    const MonoTime end = clock.Now().mono + d;
    for (int guard = 0; guard < 1000000; ++guard) {
      manager->RunDue();
      auto next = manager->NextWake();
      if (!next || *next > end) break;
      if (*next <= clock.Now().mono) {
        clock.Advance(std::chrono::milliseconds(1));
      } else {
        clock.AdvanceTo(*next);
      }
    }
    clock.AdvanceTo(end);
    manager->RunDue();
  }

  SimulatedClock clock;
  CallLog log;
  FakeSpool spool;
  FakeSink sink;
  FakeDeliverer deliverer;
  std::shared_ptr<const config::Config> config;
  std::unique_ptr<QueueManager> manager;
  int injected = 0;
};

}  // namespace outpost::queue::testing
