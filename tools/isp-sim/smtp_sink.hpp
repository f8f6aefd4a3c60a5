// SmtpSink: the ISP simulator's SMTP server. It accepts connections, speaks ESMTP (PIPELINING,
// SIZE, 8BITMIME, ENHANCEDSTATUSCODES) and answers each session as the SimConfig scripts it,
// counting everything in SimStats.
//
// Protocol: lines end at LF (a preceding CR is stripped); commands are case-insensitive; MAIL
// without EHLO is tolerated (a sink, not a policy checker). Replies are buffered and flushed when
// no further complete command is waiting, so pipelined commands get pipelined replies. DATA with
// no accepted recipient answers 554; a message over max-message-size answers 552 after its end.
// After DATA the message is "accepted" (250), counted, its Message-ID recorded and, with a
// maildir, written to DIR/tmp then renamed into DIR/new (one file per message, bytes as received
// after dot-unstuffing).
// Scripted behaviour (see sim_config.hpp): greeting override and per-IP cap at connect; per-domain
// cap, defer and bounce at RCPT; drop in the middle of DATA (after the first data line the
// connection is closed without a reply); delay before every reply.
//
// Error policy: network errors end the session quietly (counted as a closed connection); no
// exceptions on the data path (redirect_error everywhere). A maildir write failure answers 451.
// Limits: no STARTTLS, no BDAT/CHUNKING; command lines are capped at 1 MiB.
//
// Thread-safety: not thread-safe; everything runs on one io_context thread.
#pragma once

#include <asio.hpp>
#include <memory>
#include <string>
#include <vector>

#include "tools/isp-sim/ratio_schedule.hpp"
#include "tools/isp-sim/sim_config.hpp"
#include "tools/isp-sim/sim_stats.hpp"

namespace outpost::isp_sim {

class SmtpSink {
 public:
  // `maildir` empty: messages are not written anywhere.
  SmtpSink(asio::io_context& io, SimConfig config, std::string maildir);

  // Binds the listener (config.listen); false with a message on failure.
  bool Listen(std::string* error);
  asio::ip::tcp::endpoint LocalEndpoint() const;
  // Starts accepting connections (after Listen).
  void Start();
  // Stops accepting; open sessions end when their peers go away or the io_context stops.
  void Stop();

  const SimStats& stats() const { return stats_; }

 private:
  struct DomainSchedules {
    RatioSchedule defer, bounce, drop_mid_data, reset_mid_data, silent_after_data, garbage_reply;
  };
  class Session;

  asio::awaitable<void> AcceptLoop();
  static asio::awaitable<void> RunSession(std::shared_ptr<Session> session);
  // Policy and schedules of a domain block index (-1: the built-in accept-all policy).
  const DomainPolicy& Policy(int index) const;
  DomainSchedules& Schedules(int index);
  bool WriteMaildir(const std::string& message);

  asio::io_context& io_;
  SimConfig config_;
  std::string maildir_;
  asio::ip::tcp::acceptor acceptor_;
  SimStats stats_;
  DomainPolicy default_policy_;
  std::vector<DomainSchedules> schedules_;  // one per config_.domains entry, then the default
  RatioSchedule silent_greeting_;           // over every connection not refused by a cap
  std::uint64_t queue_ids_ = 0;
};

}  // namespace outpost::isp_sim
