// outpost-dkim-sign: signs the message on stdin and writes it, with its DKIM-Signature field first,
// to stdout. Bare LF line ends are converted to CRLF first (the form that goes on the wire), so the
// output is exactly what was signed.
//
//   outpost-dkim-sign --key FILE --domain D --selector S [--algorithm rsa-sha256|ed25519-sha256]
//                     [--canon relaxed|simple|HEADER/BODY] [--identity I] [--headers a:b:c]
//                     [--timestamp UNIX] < message > signed
//   outpost-dkim-sign --key FILE --dns-record      prints the TXT record of the public key
//
// Exit status: 0 signed; 1 the message could not be signed; 2 bad usage or a bad key.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <string>

#include "mta/dkim/dkim.hpp"

namespace {

int Usage(const std::string& why) {
  std::cerr << "outpost-dkim-sign: " << why << "\n"
            << "usage: outpost-dkim-sign --key FILE --domain D --selector S [--algorithm A]\n"
               "         [--canon relaxed|simple|HEADER/BODY] [--identity I] [--headers a:b:c]\n"
               "         [--timestamp UNIX] < message > signed\n"
               "       outpost-dkim-sign --key FILE --dns-record\n";
  return 2;
}

std::string ToCrlf(const std::string& in) {
  std::string out;
  out.reserve(in.size() + in.size() / 32);
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r')) out += '\r';
    out += in[i];
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace outpost::dkim;
  std::string key_file;
  SignOptions options;
  std::optional<std::int64_t> timestamp;
  bool dns_record = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= argc) return std::nullopt;
      return std::string(argv[++i]);
    };
    std::optional<std::string> v;
    if (arg == "--dns-record") {
      dns_record = true;
      continue;
    }
    if (arg == "--help" || arg == "-h") return Usage("signs a message with DKIM");
    v = value();
    if (!v) return Usage("missing value for " + arg);
    if (arg == "--key") {
      key_file = *v;
    } else if (arg == "--domain") {
      options.domain = *v;
    } else if (arg == "--selector") {
      options.selector = *v;
    } else if (arg == "--algorithm") {
      options.algorithm = ParseAlgorithm(*v);
      if (!options.algorithm) return Usage("unknown algorithm '" + *v + "'");
    } else if (arg == "--canon") {
      std::size_t slash = v->find('/');
      auto h = ParseCanon(v->substr(0, slash));
      auto b = ParseCanon(slash == std::string::npos ? *v : v->substr(slash + 1));
      if (!h || !b) return Usage("bad canonicalization '" + *v + "'");
      options.header_canon = *h;
      options.body_canon = *b;
    } else if (arg == "--identity") {
      options.identity = *v;
    } else if (arg == "--headers") {
      options.headers.clear();
      std::size_t start = 0;
      while (start <= v->size()) {
        std::size_t colon = v->find(':', start);
        if (colon == std::string::npos) colon = v->size();
        if (colon > start) options.headers.push_back(v->substr(start, colon - start));
        start = colon + 1;
      }
    } else if (arg == "--timestamp") {
      char* end = nullptr;
      long long t = std::strtoll(v->c_str(), &end, 10);
      if (end == v->c_str() || *end != '\0') return Usage("bad timestamp '" + *v + "'");
      timestamp = t;
    } else {
      return Usage("unknown option " + arg);
    }
  }
  if (key_file.empty()) return Usage("--key is required");
  KeyLoadResult key = LoadSigningKey(key_file);
  if (!key.key) {
    std::cerr << "outpost-dkim-sign: " << key.error << "\n";
    return 2;
  }
  if (dns_record) {
    std::cout << key.key->DnsRecord() << "\n";
    return 0;
  }
  if (options.domain.empty() || options.selector.empty()) {
    return Usage("--domain and --selector are required");
  }
  SignerResult signer = Signer::Create(key.key, options);
  if (!signer.signer) {
    std::cerr << "outpost-dkim-sign: " << signer.error << "\n";
    return 2;
  }
  std::string message = ToCrlf(
      std::string((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>()));
  SignResult signed_field =
      timestamp ? signer.signer->SignAt(message, *timestamp) : signer.signer->Sign(message);
  if (!signed_field.ok()) {
    std::cerr << "outpost-dkim-sign: " << signed_field.error << "\n";
    return 1;
  }
  std::cout << signed_field.header << message;
  std::cout.flush();
  return std::cout ? 0 : 1;
}
