// DomainKeys signing (RFC 4870): the hash input under nofws and simple, h= selection, the field's
// tags, and the signature checked with the key's public half. Independent verification (Perl's
// Mail::DKIM, keys from a real DNS server) is in tests/integration/test_dkim_mail_dkim.py.
#include "mta/dkim/domainkeys.hpp"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>
#include <string>

namespace outpost::dkim {
namespace {

// A fresh key of `type` ("RSA" 1024 bits, or "ED25519") in PEM, parsed as outpostd would.
std::shared_ptr<const SigningKey> NewKey(const char* type, EVP_PKEY** pkey_out = nullptr) {
  EVP_PKEY* pkey = std::string(type) == "RSA" ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", 1024)
                                              : EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  EXPECT_NE(pkey, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, pkey, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  KeyLoadResult loaded = ParseSigningKey(std::string_view(data, static_cast<std::size_t>(size)));
  BIO_free(bio);
  if (pkey_out) {
    *pkey_out = pkey;
  } else {
    EVP_PKEY_free(pkey);
  }
  EXPECT_TRUE(loaded.key) << loaded.error;
  return loaded.key;
}

// The value of tag `name` in a signature field (folding and spaces removed).
std::string Tag(std::string field, const std::string& name) {
  std::string flat;
  for (char c : field) {
    if (c != '\r' && c != '\n' && c != ' ' && c != '\t') flat += c;
  }
  std::size_t at = flat.find(";" + name + "=");
  if (at == std::string::npos) at = flat.find(":" + name + "=");
  if (at == std::string::npos) return "";
  std::size_t start = at + name.size() + 2;
  return flat.substr(start, flat.find(';', start) - start);
}

constexpr const char* kMessage =
    "Received: from a by b\r\n"
    "From: Joe  Sender <joe@example.com>\r\n"
    "To: one@example.net\r\n"
    "Subject: folded  subject\r\n"
    "\tcontinued here \r\n"
    "To: two@example.net\r\n"
    "\r\n"
    "  line one \r\n"
    "\t\r\n"
    "line two\r\n"
    "\r\n"
    " \r\n";

TEST(DomainKeysTest, NofwsDropsWhitespaceAndTrailingEmptyLines) {
  SplitMessage split = Split(kMessage);
  EXPECT_EQ(DomainKeysHashInput(split, {"from", "to", "subject"}, DkCanon::kNofws),
            "From:JoeSender<joe@example.com>\r\n"
            "To:one@example.net\r\n"
            "To:two@example.net\r\n"  // every instance of a listed name, in message order
            "Subject:foldedsubjectcontinuedhere\r\n"
            "\r\n"
            "lineone\r\n"
            "\r\n"  // the tab-only line is empty under nofws, and kept: text follows it
            "linetwo\r\n");
}

TEST(DomainKeysTest, SimpleKeepsBytesAndDropsOnlyTrailingEmptyLines) {
  SplitMessage split = Split(kMessage);
  EXPECT_EQ(DomainKeysHashInput(split, {"subject"}, DkCanon::kSimple),
            "Subject: folded  subject\r\n\tcontinued here \r\n"
            "\r\n"
            "  line one \r\n\t\r\nline two\r\n\r\n \r\n");
  SplitMessage empty_body = Split("From: a@example.com\r\n\r\n\r\n\r\n");
  EXPECT_EQ(DomainKeysHashInput(empty_body, {"from"}, DkCanon::kSimple),
            "From: a@example.com\r\n");  // no body: not even the separating blank line
}

TEST(DomainKeysTest, SignatureFieldAndItsSignatureVerify) {
  EVP_PKEY* pkey = nullptr;
  std::shared_ptr<const SigningKey> key = NewKey("RSA", &pkey);
  DkSignOptions options;
  options.domain = "example.com";
  options.selector = "sel1";
  SignResult r = SignDomainKeys(*key, options, kMessage);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.header.rfind("DomainKey-Signature: a=rsa-sha1; q=dns; c=nofws; s=sel1;", 0), 0u)
      << r.header;
  EXPECT_EQ(r.header.substr(r.header.size() - 2), "\r\n");
  EXPECT_EQ(Tag(r.header, "d"), "example.com");
  EXPECT_EQ(Tag(r.header, "h"), "from:to:subject");  // first appearance; Received: not wanted
  for (std::size_t i = r.header.find("\r\n"); i + 2 < r.header.size();
       i = r.header.find("\r\n", i + 1)) {
    EXPECT_EQ(r.header[i + 2], ' ') << "every continuation line is folded";
  }

  std::string b64 = Tag(r.header, "b");
  std::string sig(b64.size(), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(sig.data()),
                          reinterpret_cast<const unsigned char*>(b64.data()),
                          static_cast<int>(b64.size()));
  ASSERT_GT(n, 0);
  sig.resize(static_cast<std::size_t>(EVP_PKEY_get_size(pkey)));
  std::string input =
      DomainKeysHashInput(Split(kMessage), {"from", "to", "subject"}, DkCanon::kNofws);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ASSERT_EQ(EVP_DigestVerifyInit(ctx, nullptr, EVP_sha1(), nullptr, pkey), 1);
  EXPECT_EQ(EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                             reinterpret_cast<const unsigned char*>(input.data()), input.size()),
            1);
  std::string altered = input;
  altered[altered.size() - 3] ^= 1;
  EXPECT_EQ(
      EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                       reinterpret_cast<const unsigned char*>(altered.data()), altered.size()),
      0);
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(pkey);
}

TEST(DomainKeysTest, FromAlwaysSignedSenderWithoutFromNeitherIsAnError) {
  std::shared_ptr<const SigningKey> key = NewKey("RSA");
  DkSignOptions options;
  options.domain = "example.com";
  options.selector = "s";
  options.headers = {"subject"};
  SignResult with_from =
      SignDomainKeys(*key, options, "Subject: s\r\nFrom: a@example.com\r\n\r\nb\r\n");
  ASSERT_TRUE(with_from.ok()) << with_from.error;
  EXPECT_EQ(Tag(with_from.header, "h"), "subject:from");

  SignResult with_sender =
      SignDomainKeys(*key, options, "Sender: a@example.com\r\nSubject: s\r\n\r\nb\r\n");
  ASSERT_TRUE(with_sender.ok()) << with_sender.error;
  EXPECT_EQ(Tag(with_sender.header, "h"), "sender:subject");

  SignResult neither = SignDomainKeys(*key, options, "Subject: s\r\n\r\nb\r\n");
  EXPECT_FALSE(neither.ok());
  EXPECT_NE(neither.error.find("neither From: nor Sender:"), std::string::npos) << neither.error;
}

TEST(DomainKeysTest, Ed25519KeyIsRefused) {
  std::shared_ptr<const SigningKey> key = NewKey("ED25519");
  DkSignOptions options;
  options.domain = "example.com";
  options.selector = "s";
  SignResult r = SignDomainKeys(*key, options, kMessage);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error, "DomainKeys signs with RSA keys only");
}

}  // namespace
}  // namespace outpost::dkim
