// ParsePickupFile: the envelope from x-sender / x-receiver, the rest kept, bad files refused.
#include "mta/smtp/pickup_file.hpp"

#include <gtest/gtest.h>

namespace outpost::smtp {
namespace {

TEST(PickupFile, EnvelopeFieldsAreTakenAndRemoved) {
  const PickupMessage m = ParsePickupFile(
      "x-sender: <from@example.com>\n"
      "X-Receiver: <a@example.net>\n"
      "x-receiver: b@example.org\n"
      "Subject: hello\n"
      "\n"
      "body line\n",
      0);
  ASSERT_EQ(m.error, "");
  EXPECT_EQ(m.mail_from, "from@example.com");
  EXPECT_EQ(m.recipients, (std::vector<std::string>{"a@example.net", "b@example.org"}));
  EXPECT_EQ(m.content, "Subject: hello\r\n\r\nbody line\r\n");
}

TEST(PickupFile, FieldsAnywhereInTheHeaderAndCrlfKept) {
  const PickupMessage m = ParsePickupFile(
      "From: x@example.com\r\n"
      "X-SENDER: <>\r\n"
      "To: a@example.net\r\n"
      "x-receiver: <a@example.net> ORCPT=rfc822;a@example.net\r\n"
      " NOTIFY=NEVER\r\n"
      "\r\n"
      "x-receiver: <not@envelope.example>\r\n",
      0);
  ASSERT_EQ(m.error, "");
  EXPECT_EQ(m.mail_from, "");  // the null sender
  EXPECT_EQ(m.recipients, std::vector<std::string>{"a@example.net"});
  // The folded continuation went with its field; the body is not searched for fields.
  EXPECT_EQ(m.content,
            "From: x@example.com\r\nTo: a@example.net\r\n\r\nx-receiver: "
            "<not@envelope.example>\r\n");
}

TEST(PickupFile, HeaderOnlyMessage) {
  const PickupMessage m = ParsePickupFile("x-sender: a@b.example\nx-receiver: c@d.example\n", 0);
  ASSERT_EQ(m.error, "");
  EXPECT_EQ(m.content, "");
}

struct BadCase {
  const char* name;
  std::string file;
  std::uint64_t max_size;
  const char* error;  // a part of the reason
};

TEST(PickupFile, UnusableFilesSayWhy) {
  const std::string ok_env = "x-sender: <a@b.example>\nx-receiver: <c@d.example>\n";
  const std::vector<BadCase> cases = {
      {"no sender", "x-receiver: <c@d.example>\n\nbody\n", 0, "no x-sender"},
      {"no receiver", "x-sender: <a@b.example>\nSubject: s\n\nbody\n", 0, "no x-receiver"},
      {"two senders", "x-sender: <a@b.example>\n" + ok_env + "\nbody\n", 0,
       "more than one x-sender"},
      {"bad receiver", "x-sender: <a@b.example>\nx-receiver: <nodomain>\n\n", 0,
       "x-receiver <nodomain> is not a mailbox"},
      {"empty receiver", "x-sender: <a@b.example>\nx-receiver: <>\n\n", 0, "is not a mailbox"},
      {"source route", "x-sender: <@relay.example:a@b.example>\nx-receiver: <c@d.example>\n", 0,
       "x-sender"},
      {"not a header", "this is not a header\n" + ok_env, 0, "line 1 is not a header field"},
      {"bad header later", ok_env + "Subject: s\nno colon here\n\nbody\n", 0,
       "line 4 is not a header field"},
      {"bare CR", ok_env + "Subject: s\r\rx\n\nbody\n", 0, "CR without LF on line 3"},
      {"NUL", ok_env + "\nbo" + std::string(1, '\0') + "dy\n", 0, "NUL byte on line 4"},
      {"too large", ok_env + "\n" + std::string(100, 'x') + "\n", 64, "larger (152 bytes)"},
      {"empty file", "", 0, "no x-"},
  };
  for (const BadCase& c : cases) {
    const PickupMessage m = ParsePickupFile(c.file, c.max_size);
    EXPECT_NE(m.error.find(c.error), std::string::npos) << c.name << ": got '" << m.error << "'";
  }
}

}  // namespace
}  // namespace outpost::smtp
