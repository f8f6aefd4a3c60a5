// Fuzzes the SMTP client's reply parser (mta/delivery/smtp_client.hpp ParseReply): one input = the
// bytes a receiving server sent, read reply after reply as the client does.
//
// Invariants checked beyond "no crash":
//  * 0 <= consumed <= size, and a consumed reply ends at an LF;
//  * 0 consumed means "incomplete" (then the reply's contents are unspecified; the client
//    ignores them);
//  * a reply is 0 (malformed) or a code 100..599; an enhanced code starts with the code's class
//    digit and holds no space; the text has no LF (lines are joined with a space);
//  * the result depends only on the reply's own bytes: parsing exactly the consumed prefix gives
//    the same reply, and so does parsing it with other bytes after it.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/fuzz_check.hpp"
#include "mta/delivery/smtp_client.hpp"

namespace {

using outpost::delivery::ParseReply;
using outpost::delivery::Reply;

bool Same(const Reply& a, const Reply& b) {
  return a.code == b.code && a.enhanced == b.enhanced && a.text == b.text;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string buffer(outpost::fuzz::AsText(data, size));
  while (!buffer.empty()) {
    Reply reply;
    reply.code = 999;  // must be overwritten
    const std::size_t consumed = ParseReply(buffer, reply);
    FUZZ_CHECK(consumed <= buffer.size(), "consumed <= size");
    if (consumed == 0) break;  // incomplete: `reply` is unspecified (callers ignore it)
    FUZZ_CHECK(buffer[consumed - 1] == '\n', "a reply ends at LF");
    FUZZ_CHECK(reply.code == 0 || (reply.code >= 100 && reply.code <= 599), "code range");
    if (reply.code == 0) {
      FUZZ_CHECK(reply.text.empty() && reply.enhanced.empty(), "a malformed reply is empty");
    }
    if (!reply.enhanced.empty()) {
      FUZZ_CHECK(reply.enhanced[0] == '0' + reply.code / 100, "enhanced class == code class");
      FUZZ_CHECK(reply.enhanced.find(' ') == std::string::npos, "enhanced has no space");
    }
    FUZZ_CHECK(reply.text.find('\n') == std::string::npos, "text has no LF");

    Reply exact;
    FUZZ_CHECK(ParseReply(buffer.substr(0, consumed), exact) == consumed, "prefix: consumed");
    FUZZ_CHECK(Same(exact, reply), "prefix: same reply");
    Reply more;
    FUZZ_CHECK(ParseReply(buffer.substr(0, consumed) + "250 trailing\r\n", more) == consumed,
               "suffix: consumed");
    FUZZ_CHECK(Same(more, reply), "suffix: same reply");

    buffer.erase(0, consumed);
  }
  return 0;
}
