// Throwaway measurement (not a test): RSS per queued recipient with 1,000,000 recipients queued.
//   queue_memory_bench [recipients] [recipients-per-message] [domains]
// Envelopes stay in the spool (a stub here): the manager holds only its compact records.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "mta/config/config.hpp"
#include "mta/queue/queue_manager.hpp"
#include "tests/unit/queue/fakes.hpp"

namespace {

long RssBytes() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  statm >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

class NullDeliverer final : public outpost::queue::Deliverer {
 public:
  void Connect(const outpost::queue::ConnectRequest&,
               std::function<void(outpost::queue::ConnectOutcome)>) override {}
  void Send(outpost::queue::ConnectionId, outpost::queue::BatchRequest,
            std::function<void(outpost::queue::BatchOutcome)>) override {}
  void Close(outpost::queue::ConnectionId, std::function<void()> closed) override { closed(); }
};

}  // namespace

int main(int argc, char** argv) {
  using namespace outpost;
  const long total = argc > 1 ? std::atol(argv[1]) : 1000000;
  const long per_message = argc > 2 ? std::atol(argv[2]) : 1;
  const long domains = argc > 3 ? std::atol(argv[3]) : 1000;
  auto config = queue::testing::ParseOrDie("");
  outpost::SimulatedClock clock;
  queue::testing::CallLog log;
  queue::testing::FakeSpool spool(&log);
  queue::testing::FakeSink sink(&log);
  NullDeliverer deliverer;
  queue::QueueManager manager(config, {}, clock, spool, sink, deliverer);

  // Envelopes are built and dropped one at a time; only the manager keeps state.
  spool::Envelope env;
  env.mail_from = "news@app.example.com";
  env.time_queued = clock.Now().unix_seconds();
  env.recipients.resize(per_message);
  const long before = RssBytes();
  long queued = 0;
  for (long m = 0; queued < total; ++m) {
    for (long i = 0; i < per_message; ++i) {
      env.recipients[i] = "user" + std::to_string(queued + i) + "@domain" +
                          std::to_string((queued + i) % domains) + ".example";
    }
    manager.Enqueue(spool::SpoolId{1, static_cast<std::uint64_t>(m + 1)}, env, 4096);
    queued += per_message;
  }
  const long after = RssBytes();
  std::printf("recipients=%ld per_message=%ld queues=%ld rss_delta=%ld bytes => %.1f B/recipient\n",
              static_cast<long>(manager.queued_recipients()), per_message,
              static_cast<long>(manager.Snapshot().totals.queues), after - before,
              static_cast<double>(after - before) / static_cast<double>(queued));
  return 0;
}
