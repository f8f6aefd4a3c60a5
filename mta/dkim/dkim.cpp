// DKIM signing: canonicalization, keys, signers and the signer cache. See dkim.hpp.
#include "mta/dkim/dkim.hpp"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "mta/dkim/internal.hpp"

namespace outpost::dkim {
namespace internal {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string LowerString(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Lower(c);
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

std::string Base64(const unsigned char* data, std::size_t size) {
  std::string out(4 * ((size + 2) / 3) + 1, '\0');
  int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
  out.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
  return out;
}

}  // namespace internal
namespace {

using internal::Base64;
using internal::EqualsIgnoreCase;
using internal::FieldBuilder;
using internal::Lower;
using internal::LowerString;

bool IsWsp(char c) { return c == ' ' || c == '\t'; }

// Decodes strict base64 (no whitespace); nullopt on bad input.
std::optional<std::string> Unbase64(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  std::string out(text.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  std::size_t size = static_cast<std::size_t>(n);
  if (text.size() >= 1 && text[text.size() - 1] == '=') --size;  // DecodeBlock keeps pad bytes
  if (text.size() >= 2 && text[text.size() - 2] == '=') --size;
  out.resize(size);
  return out;
}

// Feeds canonical body bytes to a SHA-256 context through a small buffer, so relaxed
// canonicalization (many short segments) costs few EVP_DigestUpdate calls and no allocation.
class DigestSink {
 public:
  explicit DigestSink(EVP_MD_CTX* ctx) : ctx_(ctx) {}
  void operator()(const char* data, std::size_t size) {
    if (size >= sizeof(buffer_)) {
      Flush();
      EVP_DigestUpdate(ctx_, data, size);
      return;
    }
    if (used_ + size > sizeof(buffer_)) Flush();
    std::memcpy(buffer_ + used_, data, size);
    used_ += size;
  }
  void Flush() {
    if (used_ > 0) EVP_DigestUpdate(ctx_, buffer_, used_);
    used_ = 0;
  }

 private:
  EVP_MD_CTX* ctx_;
  char buffer_[4096];
  std::size_t used_ = 0;
};

struct StringSink {
  std::string* out;
  void operator()(const char* data, std::size_t size) { out->append(data, size); }
};

// Emits the canonical form of `body` to `sink` (RFC 6376 §3.4.3, §3.4.4).
template <typename Sink>
void CanonicalizeBody(std::string_view body, Canon canon, Sink& sink) {
  static constexpr char kCrlf[] = "\r\n";
  if (canon == Canon::kSimple) {
    // Everything up to the end of the last non-empty line, then exactly one CRLF.
    std::size_t end = body.size();
    while (end >= 2 && body[end - 2] == '\r' && body[end - 1] == '\n') end -= 2;
    if (end > 0) sink(body.data(), end);
    sink(kCrlf, 2);
    return;
  }
  std::size_t pending_empty = 0;  // empty lines held back: dropped if nothing follows
  std::size_t pos = 0;
  while (pos < body.size()) {
    std::size_t eol = body.find("\r\n", pos);
    std::size_t line_end = eol == std::string_view::npos ? body.size() : eol;
    std::size_t next = eol == std::string_view::npos ? body.size() : eol + 2;
    // Trim WSP at the end of the line; an all-WSP line is empty.
    std::size_t end = line_end;
    while (end > pos && IsWsp(body[end - 1])) --end;
    if (end == pos) {
      ++pending_empty;
    } else {
      for (; pending_empty > 0; --pending_empty) sink(kCrlf, 2);
      std::size_t i = pos;
      while (i < end) {
        std::size_t run = i;
        while (run < end && !IsWsp(body[run])) ++run;
        if (run > i) sink(body.data() + i, run - i);
        if (run < end) {
          sink(" ", 1);
          while (run < end && IsWsp(body[run])) ++run;
        }
        i = run;
      }
      sink(kCrlf, 2);
    }
    pos = next;
  }
}

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

// Refuses to prompt for a passphrase: encrypted keys fail to load.
int NoPassphrase(char*, int, int, void*) { return -1; }

bool IdentityWithinDomain(const std::string& identity, const std::string& domain) {
  std::size_t at = identity.rfind('@');
  if (at == std::string::npos) return false;
  std::string id_domain = LowerString(identity.substr(at + 1));
  std::string d = LowerString(domain);
  if (id_domain == d) return true;
  return id_domain.size() > d.size() + 1 &&
         id_domain.compare(id_domain.size() - d.size(), d.size(), d) == 0 &&
         id_domain[id_domain.size() - d.size() - 1] == '.';
}

// A tag value may not hold ';', whitespace or control characters (it would add or break tags).
bool SafeTagValue(std::string_view v) {
  if (v.empty()) return false;
  for (char c : v) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == ';' || c == '=' || u <= ' ' || u >= 0x7f) return false;
  }
  return true;
}

}  // namespace

const char* AlgorithmName(Algorithm a) {
  return a == Algorithm::kRsaSha256 ? "rsa-sha256" : "ed25519-sha256";
}
const char* CanonName(Canon c) { return c == Canon::kRelaxed ? "relaxed" : "simple"; }

std::optional<Algorithm> ParseAlgorithm(std::string_view text) {
  if (text == "rsa-sha256") return Algorithm::kRsaSha256;
  if (text == "ed25519-sha256") return Algorithm::kEd25519Sha256;
  return std::nullopt;
}

std::optional<Canon> ParseCanon(std::string_view text) {
  if (text == "relaxed") return Canon::kRelaxed;
  if (text == "simple") return Canon::kSimple;
  return std::nullopt;
}

// ---- Canonicalization ----

std::string CanonicalHeader(std::string_view field, Canon canon) {
  if (canon == Canon::kSimple) return std::string(field);
  std::string out;
  out.reserve(field.size());
  std::size_t colon = field.find(':');
  std::string_view name = field.substr(0, colon);
  while (!name.empty() && IsWsp(name.back())) name.remove_suffix(1);
  for (char c : name) out += Lower(c);
  if (colon == std::string_view::npos) return out;
  out += ':';
  bool pending_space = false;
  bool any = false;
  for (std::size_t i = colon + 1; i < field.size(); ++i) {
    char c = field[i];
    if (c == '\r' && i + 1 < field.size() && field[i + 1] == '\n') {
      ++i;  // unfold: CRLF goes, the WSP after it counts as WSP
      continue;
    }
    if (IsWsp(c)) {
      pending_space = true;
      continue;
    }
    if (pending_space && any) out += ' ';
    pending_space = false;
    any = true;
    out += c;
  }
  return out;
}

std::string CanonicalBody(std::string_view body, Canon canon) {
  std::string out;
  out.reserve(body.size() + 2);
  StringSink sink{&out};
  CanonicalizeBody(body, canon, sink);
  return out;
}

std::string BodyHash(std::string_view body, Canon canon) {
  MdCtx ctx(EVP_MD_CTX_new());
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) return std::string();
  DigestSink sink(ctx.get());
  CanonicalizeBody(body, canon, sink);
  sink.Flush();
  if (EVP_DigestFinal_ex(ctx.get(), digest, &size) != 1) return std::string();
  return Base64(digest, size);
}

SplitMessage Split(std::string_view message) {
  SplitMessage out;
  std::size_t pos = 0;
  while (pos < message.size()) {
    std::size_t eol = message.find("\r\n", pos);
    if (eol == pos) {  // the blank line
      out.body = message.substr(pos + 2);
      return out;
    }
    if (eol == std::string_view::npos) eol = message.size();
    // A continuation line belongs to the field before it.
    if (IsWsp(message[pos]) && !out.headers.empty()) {
      HeaderField& last = out.headers.back();
      last.field = std::string_view(last.field.data(), message.data() + eol - last.field.data());
    } else {
      std::string_view field = message.substr(pos, eol - pos);
      std::size_t colon = field.find(':');
      std::string_view name;
      if (colon != std::string_view::npos) {
        name = field.substr(0, colon);
        while (!name.empty() && IsWsp(name.back())) name.remove_suffix(1);
      }
      out.headers.push_back({name, field});
    }
    pos = eol + 2;
  }
  out.body = std::string_view();  // no blank line: headers only, empty body
  return out;
}

std::string FromDomain(std::string_view message) {
  SplitMessage split = Split(message);
  for (const HeaderField& h : split.headers) {
    if (!EqualsIgnoreCase(h.name, "from")) continue;
    std::string_view v = h.field.substr(h.field.find(':') + 1);
    // The address is in <...> when there is a display name; otherwise the whole value.
    std::size_t lt = v.rfind('<');
    if (lt != std::string_view::npos) {
      std::size_t gt = v.find('>', lt);
      v = v.substr(lt + 1, gt == std::string_view::npos ? std::string_view::npos : gt - lt - 1);
    }
    std::size_t at = v.rfind('@');
    if (at == std::string_view::npos) return std::string();
    std::string domain;
    for (std::size_t i = at + 1; i < v.size(); ++i) {
      char c = v[i];
      if (IsWsp(c) || c == '\r' || c == '\n' || c == '>' || c == ',' || c == ';' || c == '(') {
        break;
      }
      domain += Lower(c);
    }
    return domain;
  }
  return std::string();
}

// ---- Keys ----

SigningKey::SigningKey(EVP_PKEY* pkey, Algorithm algorithm, int bits)
    : pkey_(pkey), algorithm_(algorithm), bits_(bits) {}

SigningKey::~SigningKey() { EVP_PKEY_free(pkey_); }

std::string SigningKey::DnsRecord() const {
  std::string p;
  if (algorithm_ == Algorithm::kEd25519Sha256) {
    unsigned char raw[32];
    std::size_t len = sizeof(raw);
    if (EVP_PKEY_get_raw_public_key(pkey_, raw, &len) == 1) p = Base64(raw, len);
  } else {
    int len = i2d_PUBKEY(pkey_, nullptr);
    if (len > 0) {
      std::vector<unsigned char> der(static_cast<std::size_t>(len));
      unsigned char* cursor = der.data();
      if (i2d_PUBKEY(pkey_, &cursor) == len) p = Base64(der.data(), der.size());
    }
  }
  ERR_clear_error();
  return std::string("v=DKIM1; k=") +
         (algorithm_ == Algorithm::kEd25519Sha256 ? "ed25519" : "rsa") + "; p=" + p;
}

struct KeyLoader {
  static KeyLoadResult Make(EVP_PKEY* pkey) {
    KeyLoadResult r;
    int id = EVP_PKEY_get_base_id(pkey);
    if (id == EVP_PKEY_RSA) {
      int bits = EVP_PKEY_get_bits(pkey);
      if (bits < 1024) {
        EVP_PKEY_free(pkey);
        r.error = "RSA key of " + std::to_string(bits) + " bits is too short (at least 1024)";
        return r;
      }
      r.key.reset(new SigningKey(pkey, Algorithm::kRsaSha256, bits));
    } else if (id == EVP_PKEY_ED25519) {
      r.key.reset(new SigningKey(pkey, Algorithm::kEd25519Sha256, 256));
    } else {
      const char* type = OBJ_nid2sn(id);
      EVP_PKEY_free(pkey);
      r.error = std::string("unsupported key type ") + (type ? type : "(unknown)") +
                " (DKIM signs with RSA or Ed25519)";
    }
    return r;
  }
};

KeyLoadResult ParseSigningKey(std::string_view text) {
  KeyLoadResult r;
  BIO* bio = BIO_new_mem_buf(text.data(), static_cast<int>(text.size()));
  EVP_PKEY* pkey = bio ? PEM_read_bio_PrivateKey(bio, nullptr, NoPassphrase, nullptr) : nullptr;
  BIO_free(bio);
  ERR_clear_error();  // a failed parse leaves entries; they must not leak to other OpenSSL users
  if (pkey != nullptr) return KeyLoader::Make(pkey);
  // RFC 8463 prints an Ed25519 private key as the base64 of its 32-byte seed.
  std::string_view trimmed = text;
  while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.back()))) {
    trimmed.remove_suffix(1);
  }
  while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.front()))) {
    trimmed.remove_prefix(1);
  }
  if (trimmed.size() == 44) {
    std::optional<std::string> seed = Unbase64(trimmed);
    if (seed && seed->size() == 32) {
      pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr,
                                          reinterpret_cast<const unsigned char*>(seed->data()), 32);
      OPENSSL_cleanse(seed->data(), seed->size());
      ERR_clear_error();
      if (pkey != nullptr) return KeyLoader::Make(pkey);
    }
  }
  if (text.find("ENCRYPTED") != std::string_view::npos) {
    r.error =
        "the key is encrypted (a passphrase cannot be given; store it unencrypted, mode 0600)";
  } else {
    r.error = "not a PEM private key (PKCS#8 or PKCS#1) nor a base64 Ed25519 seed";
  }
  return r;
}

KeyLoadResult LoadSigningKey(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    KeyLoadResult r;
    r.error = "cannot open key file '" + path + "': " + std::strerror(errno);
    return r;
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) {
    KeyLoadResult r;
    r.error = "cannot read key file '" + path + "'";
    return r;
  }
  KeyLoadResult r = ParseSigningKey(text);
  OPENSSL_cleanse(text.data(), text.size());
  if (!r.error.empty()) r.error = "key file '" + path + "': " + r.error;
  return r;
}

// ---- Signer ----

Signer::Signer(std::shared_ptr<const SigningKey> key, SignOptions options, Algorithm algorithm)
    : key_(std::move(key)), options_(std::move(options)), algorithm_(algorithm) {
  sha256_ = EVP_MD_fetch(nullptr, "SHA256", nullptr);
}

Signer::~Signer() {
  for (Context& c : pool_) Free(c);
  EVP_MD_free(sha256_);
}

void Signer::Free(Context ctx) {
  EVP_PKEY_CTX_free(ctx.pkey_ctx);
  EVP_MD_CTX_free(ctx.md_ctx);
}

Signer::Context Signer::Acquire() const {
  {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    if (!pool_.empty()) {
      Context c = pool_.back();
      pool_.pop_back();
      return c;
    }
  }
  Context c;
  if (algorithm_ == Algorithm::kRsaSha256) {
    c.pkey_ctx = EVP_PKEY_CTX_new_from_pkey(nullptr, key_->pkey(), nullptr);
    if (c.pkey_ctx == nullptr || EVP_PKEY_sign_init(c.pkey_ctx) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(c.pkey_ctx, RSA_PKCS1_PADDING) != 1 ||
        EVP_PKEY_CTX_set_signature_md(c.pkey_ctx, sha256_) != 1) {
      EVP_PKEY_CTX_free(c.pkey_ctx);
      c.pkey_ctx = nullptr;
    }
  } else {
    c.md_ctx = EVP_MD_CTX_new();
    if (c.md_ctx == nullptr ||
        EVP_DigestSignInit(c.md_ctx, nullptr, nullptr, nullptr, key_->pkey()) != 1) {
      EVP_MD_CTX_free(c.md_ctx);
      c.md_ctx = nullptr;
    }
  }
  ERR_clear_error();
  return c;
}

void Signer::Release(Context ctx) const {
  static constexpr std::size_t kMaxPooled = 64;  // more than any sensible thread count
  {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    if (pool_.size() < kMaxPooled) {
      pool_.push_back(ctx);
      return;
    }
  }
  Free(ctx);
}

SignerResult Signer::Create(std::shared_ptr<const SigningKey> key, SignOptions options) {
  SignerResult r;
  if (!key) {
    r.error = "no key";
    return r;
  }
  options.domain = LowerString(options.domain);
  if (!SafeTagValue(options.domain) || !SafeTagValue(options.selector)) {
    r.error = "domain and selector must be non-empty and hold no ';', '=' or whitespace";
    return r;
  }
  Algorithm algorithm = options.algorithm.value_or(key->algorithm());
  if (algorithm != key->algorithm()) {
    r.error = std::string("dkim-algorithm ") + AlgorithmName(algorithm) + " needs " +
              (algorithm == Algorithm::kRsaSha256 ? "an RSA" : "an Ed25519") + " key, not " +
              (key->algorithm() == Algorithm::kRsaSha256 ? "an RSA" : "an Ed25519") + " key";
    return r;
  }
  options.algorithm = algorithm;
  if (!options.identity.empty() && (!SafeTagValue(options.identity) ||
                                    !IdentityWithinDomain(options.identity, options.domain))) {
    r.error = "dkim-identity '" + options.identity + "' is not within the signing domain '" +
              options.domain + "'";
    return r;
  }
  for (std::string& h : options.headers) h = LowerString(h);
  for (std::string& h : options.oversign) h = LowerString(h);
  std::shared_ptr<Signer> signer(new Signer(std::move(key), std::move(options), algorithm));
  if (signer->sha256_ == nullptr) {
    ERR_clear_error();
    r.error = "SHA-256 is not available from OpenSSL";
    return r;
  }
  r.signer = std::move(signer);
  return r;
}

SignResult Signer::Sign(std::string_view message) const {
  return SignAt(message, static_cast<std::int64_t>(std::time(nullptr)));
}

SignResult Signer::SignAt(std::string_view message, std::int64_t timestamp) const {
  SignResult r;
  SplitMessage split = Split(message);

  // h=: each configured name present, once per instance; oversigned names once more.
  std::vector<std::string> names;
  bool has_from = false;
  for (const std::string& wanted : options_.headers) {
    std::size_t count = 0;
    for (const HeaderField& h : split.headers) count += EqualsIgnoreCase(h.name, wanted);
    if (wanted == "from") has_from = count > 0;
    if (std::find(names.begin(), names.end(), wanted) != names.end()) continue;  // listed twice
    names.insert(names.end(), count, wanted);
  }
  if (!has_from) {
    for (const HeaderField& h : split.headers) has_from |= EqualsIgnoreCase(h.name, "from");
    if (!has_from) {
      r.error = "the message has no From: header field (RFC 6376 5.4 requires signing it)";
      return r;
    }
    names.insert(names.begin(), "from");
  }
  for (const std::string& extra : options_.oversign) names.push_back(extra);

  std::string bh = BodyHash(split.body, options_.body_canon);
  if (bh.empty()) {
    ERR_clear_error();
    r.error = "SHA-256 failed";
    return r;
  }

  FieldBuilder field("DKIM-Signature:");
  field.Add("v=1;", " ");
  field.Add(std::string("a=") + AlgorithmName(algorithm_) + ";", " ");
  field.Add(std::string("c=") + CanonName(options_.header_canon) + "/" +
                CanonName(options_.body_canon) + ";",
            " ");
  field.Add("d=" + options_.domain + ";", " ");
  field.Add("s=" + options_.selector + ";", " ");
  if (!options_.identity.empty()) field.Add("i=" + options_.identity + ";", " ");
  field.Add("t=" + std::to_string(timestamp) + ";", " ");
  for (std::size_t i = 0; i < names.size(); ++i) {
    std::string piece = (i == 0 ? "h=" : "") + names[i] + (i + 1 == names.size() ? ";" : ":");
    field.Add(piece, i == 0 ? " " : "");
  }
  field.Add("bh=" + bh + ";", " ");
  field.Add("b=", " ");

  std::string b = ComputeSignature(split, field.text(), names);
  if (b.empty()) {
    r.error = "signing failed in OpenSSL";
    return r;
  }
  field.AddSplittable(b);
  r.header = std::move(field.text());
  r.header += "\r\n";
  return r;
}

std::string Signer::ComputeSignature(const SplitMessage& message, std::string_view unsigned_field,
                                     const std::vector<std::string>& names) const {
  // The header hash input (RFC 6376 §3.7): each selected field, canonical, with CRLF; each name
  // takes the last instance not yet used (bottom-up); a name with none left adds nothing.
  std::string data;
  data.reserve(1024);
  std::vector<bool> used(message.headers.size(), false);
  for (const std::string& name : names) {
    for (std::size_t i = message.headers.size(); i-- > 0;) {
      if (used[i] || !EqualsIgnoreCase(message.headers[i].name, name)) continue;
      used[i] = true;
      data += CanonicalHeader(message.headers[i].field, options_.header_canon);
      data += "\r\n";
      break;
    }
  }
  data += CanonicalHeader(unsigned_field, options_.header_canon);

  // Both algorithms sign the SHA-256 of the data: RSA as PKCS#1 v1.5 DigestInfo, Ed25519 (pure)
  // over the 32 digest bytes (RFC 8463 §3).
  unsigned char digest[32];
  unsigned int digest_len = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &digest_len, sha256_, nullptr) != 1) {
    ERR_clear_error();
    return std::string();
  }
  unsigned char sig[1024];  // RSA up to 8192 bits
  std::size_t sig_len = sizeof(sig);
  if (static_cast<std::size_t>(EVP_PKEY_get_size(key_->pkey())) > sizeof(sig)) return std::string();
  Context ctx = Acquire();
  bool ok = false;
  if (ctx.pkey_ctx != nullptr) {
    ok = EVP_PKEY_sign(ctx.pkey_ctx, sig, &sig_len, digest, digest_len) == 1;
  } else if (ctx.md_ctx != nullptr) {
    ok = EVP_DigestSign(ctx.md_ctx, sig, &sig_len, digest, digest_len) == 1;
  }
  if (ok) {
    Release(ctx);
  } else {
    Free(ctx);  // a context in an unknown state is not reused
    ERR_clear_error();
    return std::string();
  }
  return Base64(sig, sig_len);
}

// ---- Configuration ----

DomainSignPolicy PolicyFrom(const config::DomainPolicy* policy) {
  DomainSignPolicy p;
  if (policy == nullptr) return p;
  if (policy->dkim_algorithm) p.algorithm = ParseAlgorithm(*policy->dkim_algorithm);
  if (policy->dkim_headers_canon) {
    p.header_canon = ParseCanon(*policy->dkim_headers_canon).value_or(Canon::kRelaxed);
  }
  if (policy->dkim_body_canon) {
    p.body_canon = ParseCanon(*policy->dkim_body_canon).value_or(Canon::kRelaxed);
  }
  if (policy->dkim_identity) p.identity = *policy->dkim_identity;
  return p;
}

const std::string SignerCache::kAnyDomain = "*";
const std::string SignerCache::kGlobalOwner;

// keys_ is keyed by "VMTA/DOMAIN": "/DOMAIN" for a global domain-key ("/*" for its `*` form).
std::string SignerCache::KeyName(const std::string& vmta, const std::string& domain) {
  return vmta + "/" + LowerString(domain);
}

void SignerCache::Load(const std::string& vmta, const std::vector<config::DomainKey>& keys,
                       std::vector<config::ConfigError>& errors) {
  for (const config::DomainKey& dk : keys) {
    KeyLoadResult loaded = LoadSigningKey(dk.key_file);
    if (!loaded.key) {
      errors.push_back(
          {dk.file, dk.line, "domain-key " + dk.selector + "," + dk.domain + ": " + loaded.error});
      continue;
    }
    keys_.emplace(KeyName(vmta, dk.domain), Key{dk, std::move(loaded.key)});  // first one wins
  }
}

SignerCache::BuildResult SignerCache::Build(const config::Config& config) {
  BuildResult result;
  auto cache = std::make_shared<SignerCache>();
  cache->Load("", config.domain_keys, result.errors);
  bool any_key = !config.domain_keys.empty();
  for (const config::VirtualMta& v : config.virtual_mtas) {
    cache->Load(v.name, v.domain_keys, result.errors);
    any_key = any_key || !v.domain_keys.empty();
  }

  std::string main_file = config.files.empty() ? std::string() : config.files.front();
  for (const config::DomainPolicy& d : config.domains) {
    const bool dk_sign = d.dk_sign.value_or(false);
    if (!d.dkim_sign.value_or(false) && !dk_sign && !d.dkim_identity && !d.dkim_algorithm) {
      continue;
    }
    auto error = [&](const std::string& message) {
      result.errors.push_back({main_file, d.line, "<domain " + d.match + ">: " + message});
    };
    if (!any_key) {
      if (d.dkim_sign.value_or(false)) error("dkim-sign yes but no domain-key is configured");
      if (dk_sign) error("dk-sign yes but no domain-key is configured");
      continue;
    }
    if (cache->keys_.empty()) continue;  // key errors already reported
    DomainSignPolicy policy = PolicyFrom(&d);
    if (policy.algorithm) {
      bool any = std::any_of(cache->keys_.begin(), cache->keys_.end(), [&](const auto& k) {
        return k.second.key->algorithm() == *policy.algorithm;
      });
      if (!any) {
        error(std::string("dkim-algorithm ") + AlgorithmName(*policy.algorithm) +
              " but no domain-key is of that type");
      }
    }
    if (!policy.identity.empty()) {
      bool any = std::any_of(cache->keys_.begin(), cache->keys_.end(), [&](const auto& k) {
        return k.second.directive.domain == kAnyDomain ||
               IdentityWithinDomain(policy.identity, LowerString(k.second.directive.domain));
      });
      if (!any)
        error("dkim-identity '" + policy.identity + "' is not within any domain-key's domain");
    }
  }
  if (result.errors.empty()) result.cache = std::move(cache);
  return result;
}

const SignerCache::Key* SignerCache::Lookup(const std::string& domain,
                                            const std::string& vmta) const {
  for (const std::string* owner : {&vmta, &kGlobalOwner}) {
    if (owner->empty() && owner != &kGlobalOwner) continue;
    for (const std::string& name : {domain, kAnyDomain}) {
      auto k = keys_.find(KeyName(*owner, name));
      if (k != keys_.end()) return &k->second;
    }
  }
  return nullptr;
}

std::shared_ptr<const SigningKey> SignerCache::FindKey(const std::string& domain,
                                                       const std::string& vmta,
                                                       std::string* selector) const {
  const Key* k = Lookup(LowerString(domain), vmta);
  if (k == nullptr) return nullptr;
  if (selector) *selector = k->directive.selector;
  return k->key;
}

std::shared_ptr<const Signer> SignerCache::Find(const std::string& domain,
                                                const DomainSignPolicy& policy, std::string* error,
                                                const std::string& vmta) const {
  std::string d = LowerString(domain);
  const Key* k = Lookup(d, vmta);
  if (k == nullptr) {
    if (error) *error = "no domain-key for '" + d + "'";
    return nullptr;
  }
  // The signing domain is part of the key: a `*` key signs for many.
  std::string cache_key =
      KeyName(vmta, d) + '|' + (policy.algorithm ? AlgorithmName(*policy.algorithm) : "") + '|' +
      CanonName(policy.header_canon) + '|' + CanonName(policy.body_canon) + '|' + policy.identity;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = signers_.find(cache_key);
    if (found != signers_.end()) return found->second;
  }
  SignOptions options;
  options.domain = d;
  options.selector = k->directive.selector;
  options.algorithm = policy.algorithm;
  options.header_canon = policy.header_canon;
  options.body_canon = policy.body_canon;
  options.identity = policy.identity;
  SignerResult created = Signer::Create(k->key, std::move(options));
  if (!created.signer) {
    if (error) *error = created.error;
    return nullptr;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  return signers_.emplace(cache_key, std::move(created.signer))
      .first->second;  // a racing thread's signer is as good as ours
}

std::vector<config::ConfigError> ValidateDomainKeys(const config::Config& config) {
  return SignerCache::Build(config).errors;
}

}  // namespace outpost::dkim
