// The format of a file dropped into a pickup directory (`pickup DIR BADDIR`, pickup_dir.hpp): an
// RFC 5322 message whose header section also carries its envelope, as PowerMTA's (and IIS's)
// pickup format does:
//   x-sender: <sender@example.com>      exactly one; "<>" is the null sender
//   x-receiver: <rcpt@example.net>      one per recipient, at least one
// The field names are case-insensitive and the fields may stand anywhere in the header section
// (writers put them first); the address may be bare or in angle brackets, and anything after it
// on the line (Exchange writes ORCPT=... NOTIFY=... there, folded or not) is ignored. These fields
// are removed from the message; every other header and the body are kept byte for byte.
//
// Line ends: LF and CRLF are both accepted (files written on Unix end lines in LF); the message
// handed on has CRLF line ends. A CR not followed by LF, a NUL byte, a file with no header
// section, a missing or repeated x-sender, no x-receiver, an address that is not a mailbox, or a
// file larger than `max_size` make the file unusable: ParsePickupFile says why (one line, for the
// log) and the watcher moves the file to the bad directory.
//
// Thread-safety: pure function.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace outpost::smtp {

struct PickupMessage {
  std::string error;  // not empty: the file is unusable, this says why
  std::string mail_from;
  std::vector<std::string> recipients;
  std::string content;  // the message without the envelope fields, CRLF line ends
};

// `max_size`: the largest file taken (0: no limit).
PickupMessage ParsePickupFile(std::string_view file, std::uint64_t max_size);

}  // namespace outpost::smtp
