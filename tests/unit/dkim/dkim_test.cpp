// DKIM signing: canonicalization (RFC 6376 §3.4), the RFC 8463 Appendix A vectors byte for byte,
// header selection and oversigning, key loading errors, the signer cache and config validation.
// Independent verification (dkimpy) is in tests/integration/test_dkim_dkimpy.py.
#include "mta/dkim/dkim.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

namespace outpost::dkim {
namespace {

// ---- RFC 8463 Appendix A: keys, message and published signatures (test vectors) ----

constexpr const char* kRfcEd25519Seed = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";
constexpr const char* kRfcEd25519Public = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
constexpr const char* kRfcRsaKey =
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIICXQIBAAKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQi\n"
    "Y/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqM\n"
    "KrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB\n"
    "AoGAH0cxOhFZDgzXWhDhnAJDw5s4roOXN4OhjiXa8W7Y3rhX3FJqmJSPuC8N9vQm\n"
    "6SVbaLAE4SG5mLMueHlh4KXffEpuLEiNp9Ss3O4YfLiQpbRqE7Tm5SxKjvvQoZZe\n"
    "zHorimOaChRL2it47iuWxzxSiRMv4c+j70GiWdxXnxe4UoECQQDzJB/0U58W7RZy\n"
    "6enGVj2kWF732CoWFZWzi1FicudrBFoy63QwcowpoCazKtvZGMNlPWnC7x/6o8Gc\n"
    "uSe0ga2xAkEA8C7PipPm1/1fTRQvj1o/dDmZp243044ZNyxjg+/OPN0oWCbXIGxy\n"
    "WvmZbXriOWoSALJTjExEgraHEgnXssuk7QJBALl5ICsYMu6hMxO73gnfNayNgPxd\n"
    "WFV6Z7ULnKyV7HSVYF0hgYOHjeYe9gaMtiJYoo0zGN+L3AAtNP9huqkWlzECQE1a\n"
    "licIeVlo1e+qJ6Mgqr0Q7Aa7falZ448ccbSFYEPD6oFxiOl9Y9se9iYHZKKfIcst\n"
    "o7DUw1/hz2Ck4N5JrgUCQQCyKveNvjzkkd8HjYs0SwM0fPjK16//5qDZ2UiDGnOe\n"
    "uEzxBDAr518Z8VFbR41in3W4Y3yCDgQlLlcETrS+zYcL\n"
    "-----END RSA PRIVATE KEY-----\n";
constexpr const char* kRfcRsaPublic =
    "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/"
    "J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/"
    "8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+"
    "2kryOTIKT+l/K4w3QIDAQAB";

constexpr const char* kRfcMessage =
    "From: Joe SixPack <joe@football.example.com>\r\n"
    "To: Suzie Q <suzie@shopping.example.net>\r\n"
    "Subject: Is dinner ready?\r\n"
    "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
    "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
    "\r\n"
    "Hi.\r\n"
    "\r\n"
    "We lost the game.  Are you hungry yet?\r\n"
    "\r\n"
    "Joe.\r\n";
constexpr const char* kRfcBodyHash = "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=";

std::shared_ptr<const SigningKey> MustParse(std::string_view text) {
  KeyLoadResult r = ParseSigningKey(text);
  EXPECT_TRUE(r.key) << r.error;
  return r.key;
}

std::shared_ptr<const Signer> MustCreate(std::shared_ptr<const SigningKey> key,
                                         SignOptions options) {
  SignerResult r = Signer::Create(std::move(key), std::move(options));
  EXPECT_TRUE(r.signer) << r.error;
  return r.signer;
}

std::string GeneratePem(const char* type, std::size_t bits, const char* group = nullptr) {
  EVP_PKEY* pkey = group  ? EVP_PKEY_Q_keygen(nullptr, nullptr, type, group)
                   : bits ? EVP_PKEY_Q_keygen(nullptr, nullptr, type, bits)
                          : EVP_PKEY_Q_keygen(nullptr, nullptr, type);
  EXPECT_NE(pkey, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, pkey, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  EVP_PKEY_free(pkey);
  return pem;
}

std::string Sha256Base64(const std::string& data) {
  unsigned char digest[32];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  unsigned char out[64] = {};
  int n = EVP_EncodeBlock(out, digest, static_cast<int>(len));
  return std::string(reinterpret_cast<char*>(out), static_cast<std::size_t>(n));
}

// The value of tag `name` in a DKIM-Signature field, whitespace removed.
std::string Tag(const std::string& field, const std::string& name) {
  std::string flat;
  for (char c : field) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') flat += c;
  }
  std::size_t start = flat.find(";" + name + "=");
  if (start == std::string::npos) {
    start = flat.find(":" + name + "=");  // the first tag, after "DKIM-Signature:"
    if (start == std::string::npos) return "<absent>";
  }
  start += name.size() + 2;
  std::size_t end = flat.find(';', start);
  return flat.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/outpost-dkim-test-XXXXXX";
    path_ = mkdtemp(pattern);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string Write(const std::string& name, const std::string& content) const {
    std::string p = path_ + "/" + name;
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// ---- Canonicalization ----

struct HeaderCase {
  const char* label;
  const char* field;
  Canon canon;
  const char* want;
};

TEST(Canonicalization, HeaderTable) {
  const HeaderCase cases[] = {
      {"rfc6376 3.4.5 A relaxed", "A: X", Canon::kRelaxed, "a:X"},
      {"rfc6376 3.4.5 B relaxed", "B : Y\t\r\n\tZ  ", Canon::kRelaxed, "b:Y Z"},
      {"rfc6376 3.4.5 A simple", "A: X", Canon::kSimple, "A: X"},
      {"rfc6376 3.4.5 B simple", "B : Y\t\r\n\tZ  ", Canon::kSimple, "B : Y\t\r\n\tZ  "},
      {"folded subject", "Subject: a long\r\n subject\r\n\t  line", Canon::kRelaxed,
       "subject:a long subject line"},
      {"name case and no space", "MESSAGE-ID:<x@y>", Canon::kRelaxed, "message-id:<x@y>"},
      {"empty value", "X-Empty:   ", Canon::kRelaxed, "x-empty:"},
      {"folded right after colon", "To:\r\n  a@b.c", Canon::kRelaxed, "to:a@b.c"},
      {"8-bit value kept", "Subject: Gr\xc3\xbc\xc3\x9f\x65", Canon::kRelaxed,
       "subject:Gr\xc3\xbc\xc3\x9f\x65"},
  };
  for (const HeaderCase& c : cases) {
    EXPECT_EQ(CanonicalHeader(c.field, c.canon), c.want) << c.label;
  }
}

struct BodyCase {
  const char* label;
  std::string body;
  Canon canon;
  std::string want;
};

TEST(Canonicalization, BodyTable) {
  const std::string rfc_body = " C \r\nD \t E\r\n\r\n\r\n";  // RFC 6376 §3.4.5
  const BodyCase cases[] = {
      {"rfc6376 3.4.5 relaxed", rfc_body, Canon::kRelaxed, " C\r\nD E\r\n"},
      {"rfc6376 3.4.5 simple", rfc_body, Canon::kSimple, " C \r\nD \t E\r\n"},
      {"empty relaxed", "", Canon::kRelaxed, ""},
      {"empty simple", "", Canon::kSimple, "\r\n"},
      {"only blank lines relaxed", "\r\n\r\n", Canon::kRelaxed, ""},
      {"only blank lines simple", "\r\n\r\n", Canon::kSimple, "\r\n"},
      {"whitespace-only lines relaxed", " \r\n\t\r\n", Canon::kRelaxed, ""},
      {"whitespace-only lines simple", " \r\n\t\r\n", Canon::kSimple, " \r\n\t\r\n"},
      {"no final CRLF relaxed", "no break", Canon::kRelaxed, "no break\r\n"},
      {"no final CRLF simple", "no break", Canon::kSimple, "no break\r\n"},
      {"inner blank lines kept", "a\r\n\r\n\r\nb\r\n\r\n", Canon::kRelaxed, "a\r\n\r\n\r\nb\r\n"},
      {"inner blank-ish line relaxed", "a\r\n  \r\nb\r\n", Canon::kRelaxed, "a\r\n\r\nb\r\n"},
      {"8-bit octets kept", "na\xefve \xff\r\n", Canon::kRelaxed, "na\xefve \xff\r\n"},
  };
  for (const BodyCase& c : cases) {
    EXPECT_EQ(CanonicalBody(c.body, c.canon), c.want) << c.label;
    // The streaming hash is the SHA-256 of exactly that form.
    EXPECT_EQ(BodyHash(c.body, c.canon), Sha256Base64(c.want)) << c.label;
  }
}

TEST(Canonicalization, EmptyBodyHashes) {
  // SHA-256("") and SHA-256("\r\n"), RFC 6376 §3.4.3-3.4.4.
  EXPECT_EQ(BodyHash("", Canon::kRelaxed), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
  EXPECT_EQ(BodyHash("", Canon::kSimple), "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=");
  EXPECT_EQ(BodyHash("\r\n\r\n", Canon::kSimple), "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=");
}

TEST(Canonicalization, LongBodyStreamsLikeTheMaterialisedForm) {
  std::string body;
  for (int i = 0; i < 2000; ++i) body += "word  \t word" + std::string(i % 7, ' ') + "\r\n";
  body += std::string(10000, 'x') + "\r\n\r\n";
  for (Canon canon : {Canon::kRelaxed, Canon::kSimple}) {
    EXPECT_EQ(BodyHash(body, canon), Sha256Base64(CanonicalBody(body, canon))) << CanonName(canon);
  }
}

TEST(Split, FoldedHeadersAndBody) {
  std::string m = "A: 1\r\nB: 2\r\n  more\r\n\tmore\r\nA: 3\r\nnot a field\r\n\r\nbody\r\n";
  SplitMessage s = Split(m);
  ASSERT_EQ(s.headers.size(), 4u);
  EXPECT_EQ(s.headers[1].name, "B");
  EXPECT_EQ(s.headers[1].field, "B: 2\r\n  more\r\n\tmore");
  EXPECT_EQ(s.headers[2].field, "A: 3");
  EXPECT_EQ(s.headers[3].name, "");
  EXPECT_EQ(s.body, "body\r\n");
  EXPECT_EQ(Split("A: 1\r\n").body, "");
}

// ---- RFC 8463 Appendix A, byte for byte ----

TEST(Rfc8463, BodyHash) {
  EXPECT_EQ(BodyHash(Split(kRfcMessage).body, Canon::kRelaxed), kRfcBodyHash);
}

struct RfcCase {
  const char* label;
  std::string key;
  const char* selector;
  std::string unsigned_field;  // as published, b= value removed
  const char* published_b;
};

TEST(Rfc8463, SignaturesMatchThePublishedOnes) {
  // Both RSASSA-PKCS1-v1_5 and Ed25519 are deterministic: the same key over the same canonical data
  // gives the published bytes, which checks header selection, relaxed canonicalization of the
  // signature field itself, and Ed25519-over-SHA-256 (RFC 8463 §3).
  const RfcCase cases[] = {
      {"ed25519-sha256", kRfcEd25519Seed, "brisbane",
       "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
       " d=football.example.com; i=@football.example.com;\r\n"
       " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
       " subject : date : message-id : from : subject : date;\r\n"
       " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
       " b=",
       "/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11BusFa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw=="},
      {"rsa-sha256", kRfcRsaKey, "test",
       "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n"
       " d=football.example.com; i=@football.example.com;\r\n"
       " q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n"
       " date : message-id : from : subject : date;\r\n"
       " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
       " b=",
       "F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3DhCVlUrSjV4BwcVcOF6+"
       "FF3Zo9Rpo1tFOeS9mP"
       "YQTnGdaSGsgeefOsk2JzdA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8="},
  };
  const std::vector<std::string> names = {"from",       "to",   "subject", "date",
                                          "message-id", "from", "subject", "date"};
  for (const RfcCase& c : cases) {
    SignOptions options;
    options.domain = "football.example.com";
    options.selector = c.selector;
    auto signer = MustCreate(MustParse(c.key), options);
    ASSERT_TRUE(signer) << c.label;
    EXPECT_EQ(signer->ComputeSignature(Split(kRfcMessage), c.unsigned_field, names), c.published_b)
        << c.label;
  }
}

TEST(Rfc8463, PublicKeysMatchThePublishedRecords) {
  EXPECT_EQ(MustParse(kRfcEd25519Seed)->DnsRecord(),
            std::string("v=DKIM1; k=ed25519; p=") + kRfcEd25519Public);
  EXPECT_EQ(MustParse(kRfcRsaKey)->DnsRecord(), std::string("v=DKIM1; k=rsa; p=") + kRfcRsaPublic);
}

TEST(Rfc8463, SeedAndPkcs8FormsAreTheSameKey) {
  std::string pkcs8 = GeneratePem("ED25519", 0);
  auto key = MustParse(pkcs8);
  EXPECT_EQ(key->algorithm(), Algorithm::kEd25519Sha256);
  auto seed = MustParse(std::string(kRfcEd25519Seed) + "\n");
  EXPECT_EQ(seed->algorithm(), Algorithm::kEd25519Sha256);
}

// ---- The signature field ----

constexpr const char* kMessage =
    "Received: from client by outpost; Sun, 22 Nov 2026 11:00:00 +0000\r\n"
    "From: Joe <joe@Example.com>\r\n"
    "To: a@example.net,\r\n"
    "  b@example.net\r\n"
    "Subject: a subject\r\n"
    "\tfolded\r\n"
    "Date: Sun, 22 Nov 2026 11:00:00 +0000\r\n"
    "X-Other: not signed\r\n"
    "Received: from elsewhere\r\n"
    "Cc: c@example.net\r\n"
    "Cc: d@example.net\r\n"
    "\r\n"
    "Body line  with   spaces   \r\n"
    "\r\n"
    "\r\n";

TEST(Sign, FieldTags) {
  SignOptions options;
  options.domain = "Example.com";
  options.selector = "s1";
  options.identity = "@mail.example.com";
  auto signer = MustCreate(MustParse(kRfcEd25519Seed), options);
  SignResult r = signer->SignAt(kMessage, 1700000000);
  ASSERT_TRUE(r.ok()) << r.error;
  const std::string& f = r.header;
  EXPECT_EQ(f.rfind("DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;", 0), 0u) << f;
  EXPECT_EQ(f.substr(f.size() - 2), "\r\n");
  EXPECT_EQ(Tag(f, "d"), "example.com");
  EXPECT_EQ(Tag(f, "s"), "s1");
  EXPECT_EQ(Tag(f, "i"), "@mail.example.com");
  EXPECT_EQ(Tag(f, "t"), "1700000000");
  // Present headers only, every instance, From once more; not Received or X-Other.
  EXPECT_EQ(Tag(f, "h"), "from:to:cc:cc:subject:date:from");
  EXPECT_EQ(Tag(f, "bh"), BodyHash(Split(kMessage).body, Canon::kRelaxed));
  EXPECT_EQ(Tag(f, "b").size(), 88u);  // 64 bytes of Ed25519 signature
  // Folded: every line within 78 columns, continuation lines start with a space.
  std::size_t start = 0;
  while (start < f.size()) {
    std::size_t eol = f.find("\r\n", start);
    EXPECT_LE(eol - start, 78u) << f;
    if (start > 0) {
      EXPECT_EQ(f[start], ' ');
    }
    start = eol + 2;
  }
  // Deterministic (Ed25519) for the same input and time; the time is in the signed data.
  EXPECT_EQ(signer->SignAt(kMessage, 1700000000).header, f);
  EXPECT_NE(Tag(signer->SignAt(kMessage, 1700000001).header, "b"), Tag(f, "b"));
}

TEST(Sign, SignatureCoversHeadersAndBody) {
  SignOptions options;
  options.domain = "example.com";
  options.selector = "s1";
  auto signer = MustCreate(MustParse(kRfcEd25519Seed), options);
  std::string base = Tag(signer->SignAt(kMessage, 1).header, "b");
  struct Change {
    const char* label;
    std::string from, to;
    bool changes;
  };
  const Change changes[] = {
      {"signed header value", "a subject", "another subject", true},
      {"body text", "Body line", "Body lime", true},
      {"unsigned header", "not signed", "changed", false},
      {"relaxed: refolded header", "Subject: a subject\r\n\tfolded", "Subject:  a subject folded",
       false},
      {"relaxed: body whitespace", "with   spaces", "with spaces", false},
  };
  for (const Change& c : changes) {
    std::string m = kMessage;
    std::size_t at = m.find(c.from);
    ASSERT_NE(at, std::string::npos) << c.label;
    m.replace(at, c.from.size(), c.to);
    EXPECT_EQ(Tag(signer->SignAt(m, 1).header, "b") != base, c.changes) << c.label;
  }
}

TEST(Sign, SimpleCanonicalizationIsSensitiveToFolding) {
  SignOptions options;
  options.domain = "example.com";
  options.selector = "s1";
  options.header_canon = Canon::kSimple;
  options.body_canon = Canon::kSimple;
  auto signer = MustCreate(MustParse(kRfcEd25519Seed), options);
  SignResult r = signer->SignAt(kMessage, 1);
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r.header.find("c=simple/simple;"), std::string::npos);
  std::string m = kMessage;
  m.replace(m.find("with   spaces"), 13, "with spaces");
  EXPECT_NE(Tag(signer->SignAt(m, 1).header, "bh"), Tag(r.header, "bh"));
}

TEST(Sign, RsaSignatureVerifiesWithThePublicKey) {
  SignOptions options;
  options.domain = "football.example.com";
  options.selector = "test";
  auto signer = MustCreate(MustParse(kRfcRsaKey), options);
  SignResult r = signer->SignAt(kRfcMessage, 1528637909);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(Tag(r.header, "bh"), kRfcBodyHash);
  // Rebuild the signed data independently of the signer: the selected fields in relaxed form,
  // then the signature field with b= emptied, and check b= with the RFC's public key.
  std::string unsigned_field = r.header.substr(0, r.header.size() - 2);
  unsigned_field.erase(unsigned_field.rfind("b=") + 2);
  std::string data =
      "from:Joe SixPack <joe@football.example.com>\r\n"
      "to:Suzie Q <suzie@shopping.example.net>\r\n"
      "subject:Is dinner ready?\r\n"
      "date:Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
      "message-id:<20030712040037.46341.5F8J@football.example.com>\r\n" +
      CanonicalHeader(unsigned_field, Canon::kRelaxed);
  std::string b = Tag(r.header, "b");
  std::vector<unsigned char> sig(b.size());
  int n = EVP_DecodeBlock(sig.data(), reinterpret_cast<const unsigned char*>(b.data()),
                          static_cast<int>(b.size()));
  ASSERT_EQ(n, 129);  // 128 bytes (1024-bit key) and one byte of the "==" padding
  auto key = MustParse(kRfcRsaKey);
  EVP_PKEY* pkey = key->pkey();
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ASSERT_EQ(EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, pkey), 1);
  EXPECT_EQ(EVP_DigestVerify(ctx, sig.data(), 128,
                             reinterpret_cast<const unsigned char*>(data.data()), data.size()),
            1);
  EVP_MD_CTX_free(ctx);
}

TEST(Sign, MessageWithoutFromIsRefused) {
  SignOptions options;
  options.domain = "example.com";
  options.selector = "s1";
  auto signer = MustCreate(MustParse(kRfcEd25519Seed), options);
  SignResult r = signer->SignAt("To: a@b.c\r\n\r\nbody\r\n", 1);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(r.header.empty());
  EXPECT_NE(r.error.find("From"), std::string::npos);
}

TEST(Sign, ConcurrentSignsAgree) {
  SignOptions options;
  options.domain = "example.com";
  options.selector = "s1";
  for (const std::string& key : {std::string(kRfcEd25519Seed), std::string(kRfcRsaKey)}) {
    auto signer = MustCreate(MustParse(key), options);
    const std::string want = signer->SignAt(kMessage, 42).header;  // both are deterministic
    std::vector<std::thread> threads;
    std::vector<int> mismatches(4, 0);
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 50; ++i) mismatches[t] += signer->SignAt(kMessage, 42).header != want;
      });
    }
    for (auto& th : threads) th.join();
    for (int t = 0; t < 4; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
  }
}

// ---- Keys and signer options ----

struct KeyErrorCase {
  const char* label;
  std::string content;  // written to a file; "<missing>" for no file
  const char* want_in_error;
};

TEST(Keys, LoadErrors) {
  TempDir dir;
  std::string ec = GeneratePem("EC", 0, "P-256");
  std::string short_rsa = GeneratePem("RSA", 512);
  const KeyErrorCase cases[] = {
      {"missing file", "<missing>", "cannot open key file"},
      {"garbage", "this is not a key\n", "not a PEM private key"},
      {"empty file", "", "not a PEM private key"},
      {"truncated PEM", std::string(kRfcRsaKey).substr(0, 200), "not a PEM private key"},
      {"unsupported type (EC)", ec, "unsupported key type"},
      {"RSA too short", short_rsa, "too short"},
      {"encrypted",
       "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n",
       "encrypted"},
      {"bad seed length", "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyu", "not a PEM private key"},
  };
  for (const KeyErrorCase& c : cases) {
    std::string path = dir.path() + "/missing.pem";
    if (c.content != "<missing>") path = dir.Write("key.pem", c.content);
    KeyLoadResult r = LoadSigningKey(path);
    EXPECT_FALSE(r.key) << c.label;
    EXPECT_NE(r.error.find(c.want_in_error), std::string::npos) << c.label << ": " << r.error;
    EXPECT_NE(r.error.find(path), std::string::npos) << c.label << ": the error names the file";
    // No key material in the message: no PEM armour, no line of the file.
    EXPECT_EQ(r.error.find("BEGIN"), std::string::npos) << c.label;
    EXPECT_EQ(r.error.find("MII"), std::string::npos) << c.label;
  }
}

TEST(Keys, LoadsPkcs1Pkcs8AndSeedFiles) {
  TempDir dir;
  struct Case {
    const char* label;
    std::string content;
    Algorithm want;
  };
  const Case cases[] = {
      {"PKCS#1 RSA", kRfcRsaKey, Algorithm::kRsaSha256},
      {"PKCS#8 RSA-2048", GeneratePem("RSA", 2048), Algorithm::kRsaSha256},
      {"PKCS#8 Ed25519", GeneratePem("ED25519", 0), Algorithm::kEd25519Sha256},
      {"Ed25519 seed", std::string(kRfcEd25519Seed) + "\n", Algorithm::kEd25519Sha256},
  };
  for (const Case& c : cases) {
    KeyLoadResult r = LoadSigningKey(dir.Write("k.pem", c.content));
    ASSERT_TRUE(r.key) << c.label << ": " << r.error;
    EXPECT_EQ(r.key->algorithm(), c.want) << c.label;
  }
}

TEST(Signer, CreateErrors) {
  auto rsa = MustParse(kRfcRsaKey);
  struct Case {
    const char* label;
    SignOptions options;
    const char* want_in_error;
  };
  auto with = [](auto change) {
    SignOptions o;
    o.domain = "example.com";
    o.selector = "s1";
    change(o);
    return o;
  };
  const Case cases[] = {
      {"algorithm of another type",
       with([](SignOptions& o) { o.algorithm = Algorithm::kEd25519Sha256; }),
       "needs an Ed25519 key"},
      {"identity outside the domain", with([](SignOptions& o) { o.identity = "@example.org"; }),
       "not within the signing domain"},
      {"identity on a look-alike domain",
       with([](SignOptions& o) { o.identity = "@badexample.com"; }),
       "not within the signing domain"},
      {"selector that would add a tag", with([](SignOptions& o) { o.selector = "s1; x=1"; }),
       "selector"},
      {"empty domain", with([](SignOptions& o) { o.domain = ""; }), "domain"},
  };
  for (const Case& c : cases) {
    SignerResult r = Signer::Create(rsa, c.options);
    EXPECT_FALSE(r.signer) << c.label;
    EXPECT_NE(r.error.find(c.want_in_error), std::string::npos) << c.label << ": " << r.error;
  }
  EXPECT_TRUE(
      Signer::Create(rsa, with([](SignOptions& o) { o.identity = "joe@sub.example.com"; })).signer);
}

// ---- Configuration: the cache and load-time validation ----

TEST(FromDomainTest, Table) {
  struct Case {
    const char* label;
    const char* message;
    const char* want;
  };
  const Case cases[] = {
      {"display name", "From: Joe <joe@Example.COM>\r\n\r\n", "example.com"},
      {"bare address", "from: joe@example.com\r\n\r\n", "example.com"},
      {"folded", "From: \"Joe\"\r\n <joe@mail.example.com>\r\n\r\n", "mail.example.com"},
      {"no from", "To: a@b.c\r\n\r\n", ""},
  };
  for (const Case& c : cases) EXPECT_EQ(FromDomain(c.message), c.want) << c.label;
}

std::string ErrorsOf(const std::vector<config::ConfigError>& errors) {
  std::string out;
  for (const auto& e : errors) out += e.ToString() + "\n";
  return out;
}

TEST(Config, ValidateDomainKeysTable) {
  TempDir dir;
  std::string rsa = dir.Write("rsa.pem", kRfcRsaKey);
  std::string ed = dir.Write("ed.key", std::string(kRfcEd25519Seed) + "\n");
  std::string bad = dir.Write("bad.pem", "garbage\n");
  const std::string base = "smtp-listener 127.0.0.1:0\nspool " + dir.path() + "/spool\n";
  struct Case {
    const char* label;
    std::string text;
    const char* want;  // "" = no error; else a substring of the errors
  };
  const Case cases[] = {
      {"good keys",
       base + "domain-key s1,example.com," + rsa + "\ndomain-key s2,example.org," + ed +
           "\n<domain *>\n dkim-sign yes\n dkim-identity @example.com\n</domain>\n",
       ""},
      {"garbage key names file and line",
       base + "domain-key s1,example.com," + rsa + "\ndomain-key s1,bad.example," + bad + "\n",
       "test.conf:4: domain-key s1,bad.example: key file"},
      {"dkim-sign without keys", base + "<domain gmail.com>\n dkim-sign yes\n</domain>\n",
       "test.conf:3: <domain gmail.com>: dkim-sign yes but no domain-key"},
      {"algorithm without a key of that type",
       base + "domain-key s1,example.com," + rsa +
           "\n<domain *>\n dkim-sign yes\n dkim-algorithm ed25519-sha256\n</domain>\n",
       "no domain-key is of that type"},
      {"identity outside every key's domain",
       base + "domain-key s1,example.com," + rsa +
           "\n<domain *>\n dkim-sign yes\n dkim-identity @example.org\n</domain>\n",
       "not within any domain-key's domain"},
  };
  for (const Case& c : cases) {
    config::LoadResult loaded = config::ParseConfig(c.text, "test.conf");
    ASSERT_TRUE(loaded.errors.empty()) << c.label << ": " << ErrorsOf(loaded.errors);
    std::string errors = ErrorsOf(ValidateDomainKeys(*loaded.config));
    if (std::string(c.want).empty()) {
      EXPECT_EQ(errors, "") << c.label;
    } else {
      EXPECT_NE(errors.find(c.want), std::string::npos) << c.label << ": " << errors;
      EXPECT_EQ(errors.find("garbage"), std::string::npos) << c.label << ": no key contents";
    }
  }
}

TEST(Config, SignerCachePreparesOncePerDomainAndPolicy) {
  TempDir dir;
  std::string rsa = dir.Write("rsa.pem", kRfcRsaKey);
  std::string ed = dir.Write("ed.key", std::string(kRfcEd25519Seed) + "\n");
  config::LoadResult loaded = config::ParseConfig(
      "smtp-listener 127.0.0.1:0\nspool /tmp/spool\ndomain-key s1,Example.com," + rsa +
          "\ndomain-key brisbane,football.example.com," + ed +
          "\n<domain gmail.com>\n dkim-sign yes\n dkim-body-canon simple\n</domain>\n",
      "test.conf");
  ASSERT_TRUE(loaded.errors.empty()) << ErrorsOf(loaded.errors);
  SignerCache::BuildResult built = SignerCache::Build(*loaded.config);
  ASSERT_TRUE(built.cache) << ErrorsOf(built.errors);
  EXPECT_EQ(built.cache->key_count(), 2u);

  DomainSignPolicy gmail = PolicyFrom(loaded.config->FindDomainPolicy("gmail.com"));
  EXPECT_EQ(gmail.body_canon, Canon::kSimple);
  auto a = built.cache->Find("example.com", gmail);
  ASSERT_TRUE(a);
  EXPECT_EQ(a.get(), built.cache->Find("EXAMPLE.com", gmail).get()) << "prepared once, reused";
  EXPECT_NE(a.get(), built.cache->Find("example.com", DomainSignPolicy{}).get())
      << "another policy is another signer";
  EXPECT_EQ(a->options().selector, "s1");
  EXPECT_EQ(a->algorithm(), Algorithm::kRsaSha256);
  auto b = built.cache->Find(FromDomain(kRfcMessage), DomainSignPolicy{});
  ASSERT_TRUE(b);
  EXPECT_EQ(b->algorithm(), Algorithm::kEd25519Sha256);

  std::string error;
  EXPECT_FALSE(built.cache->Find("unknown.example", gmail, &error));
  EXPECT_NE(error.find("no domain-key"), std::string::npos);
  DomainSignPolicy wrong;
  wrong.algorithm = Algorithm::kEd25519Sha256;
  EXPECT_FALSE(built.cache->Find("example.com", wrong, &error));
  EXPECT_NE(error.find("needs an Ed25519 key"), std::string::npos);
}

// domain-key SELECTOR,*,FILE (PowerMTA's wildcard form): the key for every From: domain no line
// names, d= being that domain; a virtual MTA's own keys, named or `*`, before the global ones.
TEST(Config, WildcardDomainKeyOrder) {
  TempDir dir;
  std::string rsa = dir.Write("rsa.pem", kRfcRsaKey);
  std::string ed = dir.Write("ed.key", std::string(kRfcEd25519Seed) + "\n");
  config::LoadResult loaded = config::ParseConfig(
      "smtp-listener 127.0.0.1:0\nspool /tmp/spool\ndomain-key gstar,*," + rsa +
          "\ndomain-key gnamed,named.test," + rsa + "\n<virtual-mta v1>\ndomain-key vstar,*," + ed +
          "\ndomain-key vnamed,own.test," + ed + "\n</virtual-mta>\n" +
          "<virtual-mta v2>\n</virtual-mta>\n<domain *>\n dkim-sign yes\n dkim-identity "
          "@any.test\n</domain>\n",
      "test.conf");
  ASSERT_TRUE(loaded.errors.empty()) << ErrorsOf(loaded.errors);
  SignerCache::BuildResult built = SignerCache::Build(*loaded.config);
  ASSERT_TRUE(built.cache) << ErrorsOf(built.errors);
  struct Case {
    const char* from_domain;
    const char* vmta;
    const char* selector;
  };
  const Case cases[] = {
      {"other.test", "", "gstar"},   {"named.test", "", "gnamed"},  {"own.test", "v1", "vnamed"},
      {"named.test", "v1", "vstar"}, {"other.test", "v1", "vstar"}, {"other.test", "v2", "gstar"},
  };
  for (const Case& c : cases) {
    auto signer = built.cache->Find(c.from_domain, DomainSignPolicy{}, nullptr, c.vmta);
    ASSERT_TRUE(signer) << c.from_domain << " via " << c.vmta;
    EXPECT_EQ(signer->options().selector, c.selector) << c.from_domain << " via " << c.vmta;
    EXPECT_EQ(signer->options().domain, c.from_domain) << "d= is the From: domain";
  }
  EXPECT_NE(built.cache->Find("a.test", DomainSignPolicy{}).get(),
            built.cache->Find("b.test", DomainSignPolicy{}).get())
      << "one signer per signing domain";
}

}  // namespace
}  // namespace outpost::dkim
