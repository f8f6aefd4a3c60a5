// Parses one SMTP command line (without its CRLF) into a Command, or into the error reply.
//
// Grammar: RFC 5321 section 4.1 with these deliberate choices (the parser is the security
// boundary, so it is strict where leniency would let a client smuggle meaning past the relay
// check):
// * Verbs are case-insensitive. Unknown verbs: 500 5.5.1. Known but unsupported (EXPN, BDAT, TURN,
//   ETRN, ATRN): 502 5.5.1. Arguments where none are allowed (DATA, RSET, QUIT, STARTTLS):
//   501 5.5.4.
// * Any control character (NUL, bare CR, bare LF, ...) in a line: 501 5.5.2. Lines over 510 octets
//   (512 with CRLF): 500 5.5.2.
// * MAIL FROM:<path> / RCPT TO:<path>: angle brackets are required (501 5.5.4); spaces after the
//   colon are tolerated (common client habit). `<>` only for MAIL (RCPT: 501 5.1.3). Source routes
//   (`<@a,@b:user@c>`) are refused: 553 5.1.7 (MAIL) / 553 5.1.3 (RCPT). A mailbox is a dot-atom or
//   quoted-string local part (<= 64 octets) `@` a domain (<= 255, LDH labels <= 63) or an address
//   literal `[1.2.3.4]` / `[IPv6:...]`; the path <= 256 octets. ASCII only (no SMTPUTF8). An
//   address without a domain (even `<postmaster>`) is refused (XXX: RFC 5321 wants Postmaster
//   accepted; Outpost has no local mailboxes to deliver it to). Bad mailbox syntax: 553 5.1.7 /
//   553 5.1.3. A quoted local part is kept exactly as sent (quotes included); `%` and `!` have no
//   routing meaning anywhere in Outpost.
// * MAIL parameters: SIZE=n, BODY=7BIT|8BITMIME, ENVID=xtext (decoded; <= 100 octets),
//   AUTH=xtext|<> (RFC 4954, accepted and ignored), XVERP or XVERP=+= / -= (VERP for this
//   message, common/verp.hpp). RCPT takes none (DSN is not advertised).
//   Unknown parameter: 555 5.5.4; duplicate or malformed value: 501 5.5.4.
// * HELO/EHLO need one argument: a domain or address literal, printable ASCII without spaces,
//   <= 255 octets (501 5.5.4 otherwise). The name is not verified against DNS.
//
// Thread-safety: stateless functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mta/smtp/reply.hpp"

namespace outpost::smtp {

enum class Verb {
  kHelo,
  kEhlo,
  kMail,
  kRcpt,
  kData,
  kRset,
  kNoop,
  kQuit,
  kHelp,
  kVrfy,
  kStartTls,
  kAuth
};

enum class BodyType { kUnspecified, k7Bit, k8BitMime };

inline constexpr std::size_t kMaxLocalPart = 64;
inline constexpr std::size_t kMaxDomain = 255;
inline constexpr std::size_t kMaxPath = 256;  // including the angle brackets
inline constexpr std::size_t kMaxEnvId = 100;

struct Command {
  Verb verb = Verb::kNoop;
  // HELO/EHLO: the client's name. AUTH: "MECH [initial-response]". NOOP/HELP/VRFY: raw text.
  std::string argument;
  // MAIL/RCPT: the mailbox without angle brackets ("" for the null reverse-path <>).
  std::string address;
  bool domain_is_literal = false;  // the mailbox's domain is an address literal [..]
  // MAIL parameters.
  std::optional<std::uint64_t> size;  // SIZE=; saturates at UINT64_MAX
  BodyType body = BodyType::kUnspecified;
  std::string env_id;           // ENVID= (xtext-decoded)
  std::string verp_delimiters;  // XVERP[=+=]: the delimiters ("" when MAIL FROM did not ask)
};

struct ParseResult {
  std::optional<Command> command;  // set on success
  Reply error;                     // set (code != 0) on failure
};

ParseResult ParseCommand(std::string_view line);

// The mailbox part (between the brackets) of a path: `local@domain`. Returns an empty optional
// Reply (code 0) when valid. Exposed for tests.
struct MailboxCheck {
  bool ok = false;
  bool source_route = false;
  bool domain_is_literal = false;
  std::string_view why;  // short reason when !ok
};
MailboxCheck CheckMailbox(std::string_view mailbox);

// A client line as log-commands writes it: a known command verb and its arguments (at most 200
// octets, control characters as '?'), except that AUTH keeps only its mechanism and any other
// line — an AUTH exchange's base64 credentials, garbage — is replaced by its length, so no secret
// reaches the log.
std::string CommandForLog(std::string_view line);

}  // namespace outpost::smtp
