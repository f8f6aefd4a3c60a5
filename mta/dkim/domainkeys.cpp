// DomainKeys signing (RFC 4870). See domainkeys.hpp.
#include "mta/dkim/domainkeys.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <memory>

#include "mta/dkim/internal.hpp"

namespace outpost::dkim {
namespace {

using internal::EqualsIgnoreCase;
using internal::LowerString;

// nofws drops these from header fields (unfolding them too) and, but for the CRLF that ends a
// line, from body lines.
bool NofwsDrops(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

void AppendContent(std::string_view text, DkCanon canon, std::string& out) {
  if (canon == DkCanon::kSimple) {
    out.append(text);
    return;
  }
  for (char c : text) {
    if (!NofwsDrops(c)) out += c;
  }
}

// The blank line after the header fields, then the body's lines; empty lines are held back and
// dropped when nothing but empty lines follows them (§3.4.1, §3.4.2).
void AppendBody(std::string_view body, DkCanon canon, std::string& out) {
  std::size_t pending_empty = 1;  // the blank line separating header and body
  std::size_t pos = 0;
  while (pos < body.size()) {
    std::size_t eol = body.find("\r\n", pos);
    std::size_t line_end = eol == std::string_view::npos ? body.size() : eol;
    std::string_view line = body.substr(pos, line_end - pos);
    bool empty = canon == DkCanon::kSimple ? line.empty()
                                           : std::all_of(line.begin(), line.end(), NofwsDrops);
    if (empty) {
      ++pending_empty;
    } else {
      for (; pending_empty > 0; --pending_empty) out += "\r\n";
      AppendContent(line, canon, out);
      if (eol != std::string_view::npos) out += "\r\n";
    }
    pos = eol == std::string_view::npos ? body.size() : eol + 2;
  }
}

// h=: the wanted names present, once each, in the order they first appear; From: (or, without
// it, Sender:) always. Empty when the message has neither.
std::vector<std::string> ChooseNames(const SplitMessage& message,
                                     const std::vector<std::string>& wanted) {
  auto present = [&](std::string_view name) {
    return std::any_of(message.headers.begin(), message.headers.end(),
                       [&](const HeaderField& h) { return EqualsIgnoreCase(h.name, name); });
  };
  std::string identity = present("from") ? "from" : present("sender") ? "sender" : "";
  if (identity.empty()) return {};
  std::vector<std::string> names;
  for (const HeaderField& h : message.headers) {
    std::string name = LowerString(h.name);
    bool listed = name == identity || std::find(wanted.begin(), wanted.end(), name) != wanted.end();
    if (listed && std::find(names.begin(), names.end(), name) == names.end()) {
      names.push_back(std::move(name));
    }
  }
  return names;
}

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

// base64 of the RSA-SHA1 (PKCS#1 v1.5) signature of `data`; empty on failure.
std::string RsaSha1(const SigningKey& key, const std::string& data) {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  std::size_t size = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), &pctx, EVP_sha1(), nullptr, key.pkey()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &size, nullptr, 0) != 1) {
    ERR_clear_error();
    return std::string();
  }
  std::string sig(size, '\0');
  auto* out = reinterpret_cast<unsigned char*>(sig.data());
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  if (EVP_DigestSign(ctx.get(), out, &size, in, data.size()) != 1) {
    ERR_clear_error();
    return std::string();
  }
  return internal::Base64(out, size);
}

}  // namespace

const char* DkCanonName(DkCanon c) { return c == DkCanon::kNofws ? "nofws" : "simple"; }

std::string DomainKeysHashInput(const SplitMessage& message, const std::vector<std::string>& names,
                                DkCanon canon) {
  std::string data;
  data.reserve(message.body.size() + 1024);
  for (const std::string& name : names) {
    for (const HeaderField& h : message.headers) {
      if (!EqualsIgnoreCase(h.name, name)) continue;
      AppendContent(h.field, canon, data);
      data += "\r\n";
    }
  }
  AppendBody(message.body, canon, data);
  return data;
}

SignResult SignDomainKeys(const SigningKey& key, const DkSignOptions& options,
                          std::string_view message) {
  SignResult r;
  if (key.algorithm() != Algorithm::kRsaSha256) {
    r.error = "DomainKeys signs with RSA keys only";
    return r;
  }
  SplitMessage split = Split(message);
  std::vector<std::string> names = ChooseNames(split, options.headers);
  if (names.empty()) {
    r.error = "the message has neither From: nor Sender: (RFC 4870 signs the sending domain's)";
    return r;
  }
  std::string b = RsaSha1(key, DomainKeysHashInput(split, names, options.canon));
  if (b.empty()) {
    r.error = "signing failed in OpenSSL";
    return r;
  }
  internal::FieldBuilder field("DomainKey-Signature:");
  field.Add("a=rsa-sha1;", " ");
  field.Add("q=dns;", " ");
  field.Add(std::string("c=") + DkCanonName(options.canon) + ";", " ");
  field.Add("s=" + options.selector + ";", " ");
  field.Add("d=" + options.domain + ";", " ");
  for (std::size_t i = 0; i < names.size(); ++i) {
    std::string piece = (i == 0 ? "h=" : "") + names[i] + (i + 1 == names.size() ? ";" : ":");
    field.Add(piece, i == 0 ? " " : "");
  }
  field.Add("b=", " ");
  field.AddSplittable(b);
  r.header = std::move(field.text());
  r.header += "\r\n";
  return r;
}

}  // namespace outpost::dkim
