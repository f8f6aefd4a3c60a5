// Fuzzes the SMTP command parser (mta/smtp/command_parser.hpp): one input = one command line as
// the line reader hands it over (no CRLF).
//
// Invariants checked beyond "no crash":
//  * exactly one outcome: a Command, or an error Reply with a 5xx code and an enhanced code;
//  * a line with a control character (HTAB aside), or longer than 510 octets, never parses;
//  * a parsed MAIL/RCPT address passes CheckMailbox (or is the null path, MAIL only), is ASCII and
//    fits kMaxPath with its brackets; ENVID fits kMaxEnvId; HELO/EHLO's name is 1..255 printable
//    octets without a space;
//  * verbs are case-insensitive: upper-casing the verb changes nothing in the outcome.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/fuzz_check.hpp"
#include "mta/smtp/command_parser.hpp"

namespace {

using outpost::smtp::ParseCommand;
using outpost::smtp::ParseResult;
using outpost::smtp::Verb;

bool Printable(std::string_view s) {
  for (unsigned char c : s) {
    if (c <= ' ' || c >= 0x7f) return false;
  }
  return true;
}

bool Ascii(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return false;
  }
  return true;
}

void CheckResult(std::string_view line, const ParseResult& r) {
  bool has_control = false;
  for (unsigned char c : line) {
    if ((c < 0x20 && c != '\t') || c == 0x7f) has_control = true;  // HTAB is allowed
  }
  if (!r.command) {
    FUZZ_CHECK(r.error.code >= 500 && r.error.code <= 599, "an error is a 5xx reply");
    FUZZ_CHECK(!r.error.enhanced.empty() && r.error.enhanced[0] == '5',
               "an error carries a 5.x.x enhanced code");
    return;
  }
  FUZZ_CHECK(r.error.code == 0, "a parsed command carries no error");
  FUZZ_CHECK(!has_control, "a line with a control character never parses");
  FUZZ_CHECK(line.size() <= 510, "a line over 510 octets never parses");
  const outpost::smtp::Command& cmd = *r.command;
  switch (cmd.verb) {
    case Verb::kMail:
    case Verb::kRcpt:
      FUZZ_CHECK(cmd.address.size() + 2 <= outpost::smtp::kMaxPath, "path within kMaxPath");
      FUZZ_CHECK(Ascii(cmd.address), "address is ASCII");
      if (cmd.address.empty()) {
        FUZZ_CHECK(cmd.verb == Verb::kMail, "the null path only for MAIL");
      } else {
        outpost::smtp::MailboxCheck check = outpost::smtp::CheckMailbox(cmd.address);
        FUZZ_CHECK(check.ok, "a parsed address passes CheckMailbox");
        FUZZ_CHECK(!check.source_route, "no source route accepted");
        FUZZ_CHECK(check.domain_is_literal == cmd.domain_is_literal, "literal flag agrees");
      }
      FUZZ_CHECK(cmd.env_id.size() <= outpost::smtp::kMaxEnvId, "ENVID within kMaxEnvId");
      if (cmd.verb == Verb::kRcpt) {
        FUZZ_CHECK(!cmd.size && cmd.env_id.empty(), "RCPT takes no parameters");
      }
      break;
    case Verb::kHelo:
    case Verb::kEhlo:
      FUZZ_CHECK(!cmd.argument.empty() && cmd.argument.size() <= 255, "HELO name 1..255");
      FUZZ_CHECK(Printable(cmd.argument), "HELO name printable without spaces");
      break;
    default:
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line = outpost::fuzz::AsText(data, size);
  const ParseResult r = ParseCommand(line);
  CheckResult(line, r);

  // Case-insensitive verbs: the same line with its verb upper-cased gives the same outcome.
  std::string upper(line);
  for (char& c : upper) {
    if (c == ' ') break;
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  const ParseResult u = ParseCommand(upper);
  FUZZ_CHECK(u.command.has_value() == r.command.has_value(), "verb case changes the outcome");
  FUZZ_CHECK(u.error.code == r.error.code && u.error.enhanced == r.error.enhanced,
             "verb case changes the error");
  if (r.command) {
    FUZZ_CHECK(u.command->verb == r.command->verb && u.command->address == r.command->address &&
                   u.command->argument == r.command->argument,
               "verb case changes the command");
  }

  // The mailbox checker alone, on arbitrary text.
  (void)outpost::smtp::CheckMailbox(line);
  return 0;
}
