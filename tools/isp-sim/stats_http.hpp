// StatsHttpServer: the simulator's tiny HTTP endpoint. GET /stats answers the JSON that the
// given callback produces; anything else answers 404. One request per connection (Connection:
// close). It runs on the simulator's io thread, so the callback reads SimStats without locks —
// the reason it is a few lines of Asio rather than cpp-httplib's thread-per-connection server.
//
// Error policy: malformed or over-long (16 KiB) requests get 400 / are dropped; network errors
// end the connection quietly.
//
// Thread-safety: not thread-safe; runs on one io_context thread.
#pragma once

#include <asio.hpp>
#include <functional>
#include <string>

#include "tools/isp-sim/sim_config.hpp"

namespace outpost::isp_sim {

class StatsHttpServer {
 public:
  StatsHttpServer(asio::io_context& io, std::function<std::string()> stats_json);

  bool Listen(const Endpoint& endpoint, std::string* error);
  asio::ip::tcp::endpoint LocalEndpoint() const;
  void Start();
  void Stop();

 private:
  asio::awaitable<void> AcceptLoop();
  static asio::awaitable<void> Serve(asio::ip::tcp::socket socket,
                                     std::function<std::string()> stats_json);

  asio::io_context& io_;
  std::function<std::string()> stats_json_;
  asio::ip::tcp::acceptor acceptor_;
};

}  // namespace outpost::isp_sim
