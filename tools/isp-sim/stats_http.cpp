#include "tools/isp-sim/stats_http.hpp"

namespace outpost::isp_sim {

using asio::ip::tcp;

StatsHttpServer::StatsHttpServer(asio::io_context& io, std::function<std::string()> stats_json)
    : io_(io), stats_json_(std::move(stats_json)), acceptor_(io) {}

bool StatsHttpServer::Listen(const Endpoint& endpoint, std::string* error) {
  std::error_code ec;
  auto address = asio::ip::make_address(endpoint.host, ec);
  if (ec) {
    *error = "stats-listen: bad address " + endpoint.host;
    return false;
  }
  tcp::endpoint ep(address, endpoint.port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    *error =
        "stats-listen " + endpoint.host + ":" + std::to_string(endpoint.port) + ": " + ec.message();
    return false;
  }
  return true;
}

tcp::endpoint StatsHttpServer::LocalEndpoint() const {
  std::error_code ec;
  return acceptor_.local_endpoint(ec);
}

void StatsHttpServer::Start() { asio::co_spawn(io_, AcceptLoop(), asio::detached); }

void StatsHttpServer::Stop() {
  std::error_code ec;
  acceptor_.close(ec);
}

asio::awaitable<void> StatsHttpServer::AcceptLoop() {
  while (acceptor_.is_open()) {
    std::error_code ec;
    tcp::socket socket =
        co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
      continue;
    }
    asio::co_spawn(io_, Serve(std::move(socket), stats_json_), asio::detached);
  }
}

asio::awaitable<void> StatsHttpServer::Serve(tcp::socket socket,
                                             std::function<std::string()> stats_json) {
  std::string request;
  std::error_code ec;
  co_await asio::async_read_until(socket, asio::dynamic_buffer(request, 16 * 1024), "\r\n\r\n",
                                  asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return;
  std::string status = "404 Not Found";
  std::string body = "not found\n";
  std::string type = "text/plain";
  std::string request_line = request.substr(0, request.find("\r\n"));
  if (request_line.rfind("GET /stats ", 0) == 0 || request_line.rfind("GET /stats?", 0) == 0) {
    status = "200 OK";
    body = stats_json();
    type = "application/json";
  } else if (request_line.rfind("GET ", 0) != 0) {
    status = "400 Bad Request";
    body = "bad request\n";
  }
  std::string response = "HTTP/1.1 " + status + "\r\nContent-Type: " + type +
                         "\r\nContent-Length: " + std::to_string(body.size()) +
                         "\r\nConnection: close\r\n\r\n" + body;
  co_await asio::async_write(socket, asio::buffer(response),
                             asio::redirect_error(asio::use_awaitable, ec));
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
}

}  // namespace outpost::isp_sim
