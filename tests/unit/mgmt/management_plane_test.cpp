// ManagementPlane::Tick publishes the daemon's readings on the bus, and /status.json renders them:
// here the spool's figures (live bytes, compaction counters), from readings to JSON fields.
#include "mta/mgmt/management_plane.hpp"

#include <gtest/gtest.h>

#include "mta/mgmt/status_json.hpp"

namespace outpost::mgmt {
namespace {

TEST(ManagementPlane, TickPublishesSpoolFiguresThatStatusRenders) {
  config::LoadResult loaded = config::ParseConfig("smtp-listener 127.0.0.1:0\nspool /tmp/s\n");
  ASSERT_TRUE(loaded.config);
  SimulatedClock time;
  bus::Registry registry(time);
  ControlHooks hooks;
  hooks.read = [] {
    DaemonReadings r;
    r.spool.entries = 4;
    r.spool.bytes = 9000;
    r.spool.live_bytes = 3000;
    r.spool.compactions = 5;
    r.spool.compaction_bytes_copied = 1200;
    r.spool.compaction_bytes_reclaimed = 70000;
    r.spool.compaction_errors = 1;
    r.spool.damaged_total = 2;
    return r;
  };
  ManagementOptions options;
  options.spool_dir = ::testing::TempDir();
  ManagementPlane plane(
      registry, loaded.config, [](std::function<void()> task) { task(); }, hooks, options);
  plane.Tick();

  StatusInputs in;
  in.metrics = DaemonMetrics::Register(registry).Take();
  in.queues = std::make_shared<queue::QueueSnapshot>();
  nlohmann::json spool = RenderStatus(in)["spool"];
  EXPECT_EQ(spool["entries"], 4);
  EXPECT_EQ(spool["bytes"], 9000);
  EXPECT_EQ(spool["live_bytes"], 3000);
  EXPECT_EQ(spool["compactions"], 5);
  EXPECT_EQ(spool["compaction_bytes_copied"], 1200);
  EXPECT_EQ(spool["bytes_reclaimed"], 70000);
  EXPECT_EQ(spool["compaction_errors"], 1);
  EXPECT_EQ(spool["damaged"], 2);
}

}  // namespace
}  // namespace outpost::mgmt
