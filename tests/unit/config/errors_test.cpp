// Every kind of configuration error is reported with the right line and a useful message, and
// parsing goes on after an error so that all of them are reported at once.
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "mta/config/config.hpp"
#include "tests/unit/config/test_util.hpp"

namespace outpost::config {
namespace {

using testing::kMinimal;
using testing::TempDir;

struct ErrorCase {
  const char* label;
  const char* text;              // a snippet; kMinimal (2 lines) is put before it unless `bare`
  int line;                      // line within the snippet (1-based); 0 = the whole file
  const char* message;           // a substring the message must contain
  const char* absent = nullptr;  // a substring it must not contain
  bool bare = false;
};

class ErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ErrorTest, ReportsLineAndMessage) {
  const ErrorCase& c = GetParam();
  std::string text = c.bare ? std::string(c.text) : std::string(kMinimal) + c.text;
  LoadResult r = ParseConfig(text, "test.conf");
  EXPECT_FALSE(r.config) << c.label;
  ASSERT_EQ(r.errors.size(), 1u) << c.label << ": " << [&] {
    std::string all;
    for (const auto& e : r.errors) all += "\n  " + e.ToString();
    return all;
  }();
  const ConfigError& e = r.errors[0];
  EXPECT_EQ(e.file, "test.conf") << c.label;
  int expected_line = c.line == 0 ? 0 : c.line + (c.bare ? 0 : 2);
  EXPECT_EQ(e.line, expected_line) << c.label << ": " << e.ToString();
  EXPECT_NE(e.message.find(c.message), std::string::npos) << c.label << ": " << e.ToString();
  if (c.absent != nullptr) {
    EXPECT_EQ(e.message.find(c.absent), std::string::npos) << c.label << ": " << e.ToString();
  }
}

// A 3000-octet unknown word (fuzz/corpus/config/regress-long-unknown-word.conf): reported, with
// no suggestion; Suggest() skips directive names too different in length to be close.
const std::string kLongUnknownWord = std::string(3000, 'x') + " 1\n";

INSTANTIATE_TEST_SUITE_P(
    Table, ErrorTest,
    ::testing::Values(
        // Unknown directives, with and without a suggestion.
        ErrorCase{"unknown_with_suggestion", "<domain a.com>\nmax-smtp-ot 5\n</domain>\n", 2,
                  "unknown directive 'max-smtp-ot' in <domain> (did you mean 'max-smtp-out'?)"},
        ErrorCase{"unknown_global_suggestion", "hostname mta.example.com\n", 1,
                  "(did you mean 'host-name'?)"},
        ErrorCase{"unknown_no_suggestion", "frobnicate 1\n", 1,
                  "unknown directive 'frobnicate' in the global scope", "did you mean"},
        ErrorCase{"unknown_long_word_no_suggestion", kLongUnknownWord.c_str(), 1,
                  "unknown directive 'xxxxxxxx", "did you mean"},
        ErrorCase{"unknown_near_in_length_suggestion", "host-nam 1\n", 1,
                  "(did you mean 'host-name'?)"},
        // Bad values say what was expected.
        ErrorCase{"bad_duration", "dns-cache-ttl 10x\n", 1,
                  "bad value '10x' for 'dns-cache-ttl': expected a duration like 30s, 10m, 1h, "
                  "4d12h"},
        ErrorCase{"zero_retry", "<domain a.com>\nretry-after 10m,0s\n</domain>\n", 2,
                  "each at least 1s"},
        ErrorCase{"bad_duration_list", "<domain a.com>\nretry-after 10m,,1h\n</domain>\n", 2,
                  "expected a duration or a comma-separated list"},
        ErrorCase{"bad_rate", "<domain a.com>\nmax-msg-rate 800\n</domain>\n", 2,
                  "expected a rate like 800/h, 2/s, 100/10m or 'unlimited'"},
        ErrorCase{"zero_rate", "<domain a.com>\nmax-msg-rate 0/h\n</domain>\n", 2,
                  "expected a rate like"},
        ErrorCase{"bad_size", "max-message-size 10T\n", 1, "expected a size like 512, 100K"},
        ErrorCase{"zero_size", "max-message-size 0\n", 1, "not 0"},
        ErrorCase{"bad_bool", "<source 1.2.3.4>\nalways-allow-relaying maybe\n</source>\n", 2,
                  "expected yes/no, true/false or on/off"},
        ErrorCase{"int_out_of_range", "<domain a.com>\nqueue-priority 101\n</domain>\n", 2,
                  "expected a whole number from 0 to 100"},
        ErrorCase{"int_not_a_number", "max-smtp-in lots\n", 1, "expected a whole number from 1 to"},
        ErrorCase{"bad_listener", "smtp-listener localhost:25\n", 1, "expected ADDR:PORT"},
        ErrorCase{"bad_listener_option", "smtp-listener 0/0:25 tls=maybe\n", 1,
                  "unknown option 'tls=maybe' (the one option is tls=yes|no)"},
        ErrorCase{"implicit_tls_without_certificate", "smtp-listener 0/0:465 tls=yes\n", 1,
                  "'smtp-listener 0/0:465 tls=yes' needs 'smtp-server-tls-certificate'"},
        ErrorCase{"bad_choice", "log-level loud\n", 1, "expected one of debug,info,warning,error"},
        ErrorCase{"bad_http_access_level", "http-access 10.0.0.0/8 root\n", 1,
                  "expected the level admin, monitor, submit or none"},
        ErrorCase{"missing_api_key_file", "http-api-key-file /nonexistent/keys\n", 1,
                  "cannot read API key file"},
        ErrorCase{"bad_route", "<domain a.com>\nroute [127.0.0.1]\n</domain>\n", 2,
                  "expected HOST:PORT"},
        ErrorCase{"bad_backoff_to_normal",
                  "<domain a.com>\nbackoff-to-normal-after soon\n</domain>\n", 2,
                  "expected a duration like 30m, 1h or 'never'"},
        ErrorCase{"bad_records", "<acct-file /tmp/a.csv>\nrecords d,x\n</acct-file>\n", 2,
                  "expected a comma-separated list of record types"},
        ErrorCase{"record_fields_unknown_field",
                  "<acct-file /tmp/a.csv>\nrecord-fields d rcpt,nosuch\n</acct-file>\n", 2,
                  "unknown field 'nosuch'; known: type,timeLogged"},
        ErrorCase{"record_fields_header_column",
                  "<acct-file /tmp/a.csv>\nrecord-fields d rcpt,header_x-id\n</acct-file>\n", 2,
                  "columns copied from message headers (header_NAME) are not supported yet"},
        ErrorCase{"record_fields_bad_type",
                  "<acct-file /tmp/a.csv>\nrecord-fields x rcpt\n</acct-file>\n", 2,
                  "bad record type 'x'"},
        ErrorCase{"record_fields_no_list",
                  "<acct-file /tmp/a.csv>\nrecord-fields d\n</acct-file>\n", 2,
                  "expected a record type and a field list"},
        ErrorCase{"record_fields_twice",
                  "<acct-file /tmp/a.csv>\nrecord-fields d rcpt\nrecord-fields d jobId\n"
                  "</acct-file>\n",
                  3, "record type 'd' already has its fields (line "},
        ErrorCase{"record_fields_type_never_written",
                  "<acct-file /tmp/a.csv>\nrecords d\nrecord-fields b rcpt\n</acct-file>\n", 3,
                  "this file's 'records' do not include b"},
        ErrorCase{"webhook_url_not_http",
                  "<acct-file /tmp/a.csv>\nwebhook-url ftp://example.com/x\n</acct-file>\n", 2,
                  "expected an http:// or https:// URL like https://collector.example.net/acct"},
        ErrorCase{"webhook_ca_file_without_https",
                  "<acct-file /tmp/a.csv>\nwebhook-url http://127.0.0.1:1/\n"
                  "webhook-ca-file /etc/hostname\n</acct-file>\n",
                  1, "webhook-ca-file needs an https:// webhook-url"},
        ErrorCase{"webhook_ca_file_missing",
                  "<acct-file /tmp/a.csv>\nwebhook-url https://127.0.0.1:1/\n"
                  "webhook-ca-file /nonexistent/ca.pem\n</acct-file>\n",
                  1, "webhook-ca-file /nonexistent/ca.pem cannot be read"},
        ErrorCase{"webhook_batch_size_zero",
                  "<acct-file /tmp/a.csv>\nwebhook-batch-size 0\n</acct-file>\n", 2, "not 0"},
        ErrorCase{"webhook_max_backoff_zero",
                  "<acct-file /tmp/a.csv>\nwebhook-max-backoff 0s\n</acct-file>\n", 2,
                  "from 1s to 86400s"},
        ErrorCase{"webhook_timeout_bad",
                  "<acct-file /tmp/a.csv>\nwebhook-timeout soon\n</acct-file>\n", 2,
                  "expected a duration"},
        ErrorCase{"webhook_batch_interval_bad",
                  "<acct-file /tmp/a.csv>\nwebhook-batch-interval 2h\n</acct-file>\n", 2,
                  "from 0s to 3600s"},
        ErrorCase{"acct_pipe_without_program", "<acct-file |>\n</acct-file>\n", 1,
                  "expected |PROGRAM"},
        ErrorCase{"acct_pipe_with_rotation", "<acct-file |/bin/cat>\nmax-size 10M\n</acct-file>\n",
                  1, "apply to a file, not to a program"},
        ErrorCase{"acct_pipe_with_webhook",
                  "<acct-file |/bin/cat>\nwebhook-url http://127.0.0.1:1/\n</acct-file>\n", 1,
                  "apply to a file, not to a program"},
        ErrorCase{"missing_value", "log-level\n", 1, "missing value for 'log-level'"},
        // Spool segments and compaction.
        ErrorCase{"compaction_threshold_above_90_percent", "spool-compaction-threshold 95%\n", 1,
                  "bad value '95%' for 'spool-compaction-threshold': more than 90%, the most "
                  "allowed",
                  "a number without %"},
        ErrorCase{"compaction_threshold_above_90_as_fraction", "spool-compaction-threshold 0.95\n",
                  1, "more than 90%, the most allowed"},
        ErrorCase{"compaction_threshold_bare_percent_number", "spool-compaction-threshold 50\n", 1,
                  "more than 90%, the most allowed: compacting segments that are mostly live would "
                  "copy nearly all of them to reclaim little (0 turns compaction off); a number "
                  "without % is a fraction: write 50% for a percentage"},
        ErrorCase{"compaction_threshold_not_a_share", "spool-compaction-threshold half\n", 1,
                  "bad value 'half' for 'spool-compaction-threshold': expected a percentage like "
                  "50% or 12.5%, or a fraction like 0.5"},
        ErrorCase{"compaction_threshold_negative", "spool-compaction-threshold -10%\n", 1,
                  "expected a percentage like 50%"},
        ErrorCase{"compaction_rate_bad_size", "spool-compaction-rate fast\n", 1,
                  "bad value 'fast' for 'spool-compaction-rate': expected a size like 512, 100K"},
        ErrorCase{"segment_size_too_small", "spool-segment-size 4K\n", 1,
                  "bad value '4K' for 'spool-segment-size': expected a size like 512, 100K, 50M, "
                  "1G (powers of 1024), at least 64K"},
        ErrorCase{"segment_size_zero", "spool-segment-size 0\n", 1, "at least 64K"},
        ErrorCase{"duplicate_compaction_threshold",
                  "spool-compaction-threshold 50%\nspool-compaction-threshold 40%\n", 2,
                  "duplicate 'spool-compaction-threshold' in the global scope (first at line 3)"},
        // Unbalanced and unknown sections.
        ErrorCase{"unclosed_at_eof", "<domain a.com>\nmax-smtp-out 1\n", 1,
                  "section <domain a.com> opened here is never closed (end of file at line 4)"},
        ErrorCase{"stray_close", "</domain>\n", 1, "stray </domain> with no open section"},
        ErrorCase{"mismatched_close", "<domain a.com>\n</source>\n</domain>\n", 2,
                  "mismatched </source>: <domain a.com> opened at line 3 is still open"},
        ErrorCase{"tag_without_bracket", "<domain a.com\n", 1, "does not end with '>'"},
        ErrorCase{"unknown_section", "<domian a.com>\nmax-smtp-out 1\n</domian>\n", 1,
                  "unknown section <domian> (did you mean 'domain'?)"},
        ErrorCase{"nested_section",
                  "<virtual-mta v>\n<smtp-user u>\n</smtp-user>\n</virtual-mta>\n", 2,
                  "section <smtp-user> cannot be inside <virtual-mta v>"},
        ErrorCase{"nested_other_section",
                  "<source 0/0>\n<acct-file a.csv>\nrecords d\n</acct-file>\n</source>\n", 2,
                  "section <acct-file> cannot be inside <source 0/0> opened at line 3; only "
                  "<domain> nests"},
        ErrorCase{"bad_section_argument", "<source 1.2.3>\n</source>\n", 1,
                  "bad argument '1.2.3' for <source>"},
        // Duplicates.
        ErrorCase{"duplicate_directive",
                  "<domain a.com>\nmax-smtp-out 1\nmax-smtp-out 2\n</domain>\n", 3,
                  "duplicate 'max-smtp-out' in <domain> (first at line 4)"},
        ErrorCase{"duplicate_via_alias",
                  "<domain a.com>\nmax-connect-rate 1/s\nmax-conn-rate 2/s\n</domain>\n", 3,
                  "duplicate 'max-conn-rate' in <domain> (first at line 4)"},
        ErrorCase{"duplicate_global", "log-level info\nlog-level debug\n", 2,
                  "duplicate 'log-level' in the global scope (first at line 3)"},
        ErrorCase{"duplicate_section", "<domain a.com>\n</domain>\n<domain A.com>\n</domain>\n", 3,
                  "duplicate section <domain A.com> (first at line 3)"},
        ErrorCase{"duplicate_source_cidr",
                  "<source 10.0.0.0/8>\n</source>\n<source 10.0.0.0/8>\n</source>\n", 3,
                  "duplicate section <source 10.0.0.0/8>"},
        ErrorCase{"duplicate_macro", "domain-macro m a.com\ndomain-macro m b.com\n", 2,
                  "macro 'm' is already defined at line 3"},
        // Wrong scope.
        ErrorCase{"domain_directive_global", "max-smtp-out 5\n", 1,
                  "'max-smtp-out' is not allowed in the global scope; it belongs in <virtual-mta> "
                  "or <domain>"},
        ErrorCase{"domain_directive_in_source", "<source 1.2.3.4>\nmax-smtp-out 1\n</source>\n", 2,
                  "'max-smtp-out' is not allowed in <source>; it belongs in <virtual-mta> or "
                  "<domain>"},
        ErrorCase{"global_directive_in_domain", "<domain a.com>\nspool /x\n</domain>\n", 2,
                  "'spool' is not allowed in <domain>; it belongs in the global scope"},
        // Cross-references, checked after the whole file.
        ErrorCase{"undefined_pattern_list", "<domain a.com>\nsmtp-pattern-list nope\n</domain>\n",
                  2, "no <smtp-pattern-list nope> is defined"},
        ErrorCase{"pool_member_missing",
                  "<virtual-mta-pool p>\nvirtual-mta ghost\n</virtual-mta-pool>\n", 2,
                  "'virtual-mta ghost': no <virtual-mta ghost> is defined"},
        ErrorCase{"pool_member_is_pool",
                  "<virtual-mta v>\n</virtual-mta>\n<virtual-mta-pool p>\nvirtual-mta v\n"
                  "</virtual-mta-pool>\n<virtual-mta-pool q>\nvirtual-mta p\n</virtual-mta-pool>\n",
                  7, "pools cannot contain pools"},
        ErrorCase{"pool_empty", "<virtual-mta-pool p>\n</virtual-mta-pool>\n", 1,
                  "has no 'virtual-mta' members"},
        ErrorCase{"pool_named_like_vmta",
                  "<virtual-mta v>\n</virtual-mta>\n<virtual-mta-pool v>\nvirtual-mta v\n"
                  "</virtual-mta-pool>\n",
                  3, "the names must differ"},
        ErrorCase{"default_vmta_missing",
                  "<source 1.2.3.4>\ndefault-virtual-mta ghost\n</source>\n", 2,
                  "no <virtual-mta ghost> or <virtual-mta-pool ghost> is defined"},
        ErrorCase{"user_source_missing", "<smtp-user u>\npassword x\nsource {nope}\n</smtp-user>\n",
                  3, "no <source {nope}> is defined"},
        ErrorCase{"user_without_password", "<smtp-user u>\n</smtp-user>\n", 1,
                  "<smtp-user u> has no 'password'"},
        ErrorCase{"macro_undefined", "<domain $nope>\n</domain>\n", 1,
                  "no 'domain-macro nope' is defined"},
        // Regular expressions.
        ErrorCase{"invalid_reply_regex",
                  "<smtp-pattern-list l>\nreply /([a-/ mode=backoff\n</smtp-pattern-list>\n", 2,
                  "invalid regular expression /([a-/"},
        ErrorCase{"reply_without_mode", "<smtp-pattern-list l>\nreply /x/\n</smtp-pattern-list>\n",
                  2, "expected mode=backoff or mode=normal"},
        ErrorCase{"reply_unterminated",
                  "<smtp-pattern-list l>\nreply /abc mode=backoff\n</smtp-pattern-list>\n", 2,
                  "expected /REGEX/ mode=backoff"},
        ErrorCase{"empty_reply_regex",  // `//` is a catch-all only in <bounce-category-patterns>
                  "<smtp-pattern-list l>\nreply // mode=backoff\n</smtp-pattern-list>\n", 2,
                  "expected /REGEX/ mode=backoff"},
        ErrorCase{"invalid_bounce_regex",
                  "<bounce-category-patterns>\n/a{2,1}/ other\n</bounce-category-patterns>\n", 2,
                  "invalid regular expression"},
        ErrorCase{"bounce_category_not_a_name",  // an operator's own name is a token
                  "<bounce-category-patterns>\n/full/ Quota_Full\n</bounce-category-patterns>\n", 2,
                  "expected a bounce category after the /regex/"},
        ErrorCase{"bounce_category_missing",
                  "<bounce-category-patterns>\n/^2/ success\n/gone/\n"
                  "</bounce-category-patterns>\n",
                  3, "expected a bounce category after the /regex/"},
        // Whole-file requirements.
        ErrorCase{"tls_key_without_cert", "smtp-server-tls-private-key /etc/k.pem\n", 1,
                  "'smtp-server-tls-private-key' without 'smtp-server-tls-certificate'"},
        ErrorCase{"missing_spool", "smtp-listener 127.0.0.1:0\n", 0, "no 'spool' directive",
                  nullptr, true},
        ErrorCase{"missing_listener", "spool /tmp/s\n", 0, "no 'smtp-listener' directive", nullptr,
                  true},
        // Domain keys.
        ErrorCase{"domain_key_missing_file", "domain-key s1,example.com,/nonexistent/k.pem\n", 1,
                  "key file '/nonexistent/k.pem' does not exist"},
        ErrorCase{"domain_key_directory", "domain-key s1,example.com,/tmp\n", 1,
                  "is not a regular file"},
        ErrorCase{"domain_key_format", "domain-key s1,example.com\n", 1,
                  "expected SELECTOR,DOMAIN,KEYFILE"}),
    [](const auto& info) { return std::string(info.param.label); });

TEST(Errors, AllAreReportedInOneRun) {
  LoadResult r = ParseConfig(
      "smtp-listener 127.0.0.1:0\n"    // 1
      "max-smtp-in many\n"             // 2 bad value
      "bogus-directive 1\n"            // 3 unknown
      "<domain a.com>\n"               // 4
      "  max-smtp-out 1\n"             // 5
      "  max-smtp-out 2\n"             // 6 duplicate
      "  smtp-pattern-list missing\n"  // 7 cross-reference
      "</domain>\n"                    // 8
      "</source>\n"                    // 9 stray
      "<source 10.0.0.1>\n",           // 10 never closed
      "multi.conf");
  EXPECT_FALSE(r.config);
  std::vector<std::pair<int, std::string>> expected = {
      {2, "bad value 'many' for 'max-smtp-in'"},
      {3, "unknown directive 'bogus-directive'"},
      {6, "duplicate 'max-smtp-out'"},
      {9, "stray </source>"},
      {10, "never closed"},
      {0, "no 'spool' directive"},
      {7, "no <smtp-pattern-list missing>"},
  };
  ASSERT_EQ(r.errors.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(r.errors[i].line, expected[i].first) << r.errors[i].ToString();
    EXPECT_NE(r.errors[i].message.find(expected[i].second), std::string::npos)
        << r.errors[i].ToString();
  }
}

TEST(Errors, ToStringNamesFileAndLine) {
  EXPECT_EQ((ConfigError{"a.conf", 12, "boom"}).ToString(), "a.conf:12: boom");
  EXPECT_EQ((ConfigError{"a.conf", 0, "cannot open"}).ToString(), "a.conf: cannot open");
}

TEST(Errors, LoadConfigOfMissingFile) {
  LoadResult r = LoadConfig("/nonexistent/outpost.conf");
  EXPECT_FALSE(r.config);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].line, 0);
  EXPECT_NE(r.errors[0].message.find("cannot open"), std::string::npos);
}

TEST(DomainKey, RelativeKeyFileResolvesAgainstConfigDirectory) {
  TempDir dir;
  dir.Write("k.pem", "-----BEGIN PRIVATE KEY-----\nsecret\n");
  std::string path =
      dir.Write("o.conf", std::string(kMinimal) + "domain-key s,example.com,k.pem\n");
  LoadResult ok = LoadConfig(path);
  ASSERT_TRUE(ok.errors.empty()) << ok.errors[0].ToString();
  EXPECT_EQ(ok.config->domain_keys.at(0).key_file, dir.path() + "/k.pem");
  EXPECT_EQ(ok.config->domain_keys.at(0).file, path);
  EXPECT_EQ(ok.config->domain_keys.at(0).line, 3);

  // The same relative name with the file missing is an error at the directive's line, and the
  // message never carries the key's contents.
  std::string other =
      dir.Write("sub.conf", std::string(kMinimal) + "domain-key s,example.com,nokey.pem\n");
  LoadResult bad = LoadConfig(other);
  ASSERT_EQ(bad.errors.size(), 1u);
  EXPECT_EQ(bad.errors[0].ToString().find(other + ":3: "), 0u) << bad.errors[0].ToString();
  EXPECT_NE(bad.errors[0].message.find(dir.path() + "/nokey.pem"), std::string::npos);
}

// The error messages ParseConfig(text) reports, one per line, as seen by a user that file
// permissions apply to. Root reads any file, so when this process is root (CI runs the tests as
// root) the parse runs in a forked child that first drops to nobody (uid and gid 65534, no
// supplementary groups) and sends its messages back through a pipe. `dir` must be enterable by
// that user. On a failure of the mechanism itself, *failure says what went wrong.
std::string ErrorsAsUnprivilegedUser(const std::string& text, const std::string& dir,
                                     std::string* failure) {
  auto messages = [&] {
    std::string out;
    for (const ConfigError& e : ParseConfig(text).errors) out += e.message + "\n";
    return out;
  };
  if (geteuid() != 0) return messages();
  int fds[2];
  if (pipe(fds) != 0) {
    *failure = std::string("pipe: ") + std::strerror(errno);
    return "";
  }
  const pid_t child = fork();
  if (child < 0) {
    *failure = std::string("fork: ") + std::strerror(errno);
    return "";
  }
  if (child == 0) {
    close(fds[0]);
    std::string out;
    constexpr uid_t kNobody = 65534;
    if (setgroups(0, nullptr) != 0 || setgid(kNobody) != 0 || setuid(kNobody) != 0) {
      out = std::string("FAILED dropping root: ") + std::strerror(errno);
    } else if (access(dir.c_str(), X_OK) != 0) {
      out = "FAILED: nobody cannot enter " + dir + " (set TMPDIR to a directory others can enter)";
    } else {
      out = messages();
    }
    const char* p = out.data();
    std::size_t left = out.size();
    while (left > 0) {
      const ssize_t n = write(fds[1], p, left);
      if (n <= 0) break;
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    _exit(0);
  }
  close(fds[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;)
    out.append(buf, static_cast<std::size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    *failure =
        "the unprivileged child did not exit cleanly (status " + std::to_string(status) + ")";
  } else if (out.rfind("FAILED", 0) == 0) {
    *failure = out;
  }
  return out;
}

// A key file the daemon's user cannot read is an error at load time (not when the first message
// needs signing), and the message never carries the key's contents. Runs as root too: see
// ErrorsAsUnprivilegedUser.
TEST(DomainKey, UnreadableKeyFileIsAnError) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  ASSERT_EQ(chmod(dir.path().c_str(), 0755), 0);  // mkdtemp's 0700: nobody could not enter it
  std::string key = dir.Write("k.pem", "secret");
  ASSERT_EQ(chmod(key.c_str(), 0), 0);
  std::string failure;
  const std::string errors = ErrorsAsUnprivilegedUser(
      std::string(kMinimal) + "domain-key s,example.com," + key + "\n", dir.path(), &failure);
  ASSERT_TRUE(failure.empty()) << failure;
  ASSERT_EQ(std::count(errors.begin(), errors.end(), '\n'), 1) << errors;
  EXPECT_NE(errors.find("is not readable"), std::string::npos) << errors;
  EXPECT_EQ(errors.find("secret"), std::string::npos) << errors;
}

}  // namespace
}  // namespace outpost::config
