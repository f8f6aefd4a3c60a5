// What the SMTP listener contributes to the metrics bus: one list, mapping bus metrics to the
// fields of smtp::ServerStats (smtp_server.hpp), kept here so that a new ServerStats figure and
// its metric are declared side by side. The list is a plain macro: this header includes nothing
// and mta/smtp does not link the bus (docs/architecture.md, "Management plane and metrics bus");
// mgmt/daemon_metrics.hpp instantiates it and mirrors SmtpServer::Stats() once a second
// (mta/bus/stats.hpp explains the entry shape: kind, bus name, source field, unit, help).
//
// Thread-safety: a macro; no code.
#pragma once

// clang-format off
#define OUTPOST_SMTP_SERVER_METRICS(X)                                                            \
  X(Windowed, traffic_in_messages_total, messages_accepted, "messages",                           \
    "Messages accepted from injecting clients.")                                                  \
  X(Windowed, traffic_in_recipients_total, recipients_accepted, "recipients",                     \
    "Recipients accepted from injecting clients.")                                                \
  X(Windowed, traffic_in_bytes_total, bytes_accepted, "bytes",                                    \
    "Message bytes accepted from injecting clients.")                                             \
  X(Gauge, connections_in, connections_current, "connections", "Inbound SMTP sessions open now.") \
  X(Counter, connections_in_total, connections_total, "connections",                              \
    "Inbound SMTP sessions accepted since start.")
// clang-format on
