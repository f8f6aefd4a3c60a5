// outpost-dkim-bench: DKIM signatures per second on 4 KB messages, one thread, for RSA-2048 and
// Ed25519, through the public Signer API exactly as the daemon uses it (a prepared Signer, one
// Sign() per message: header parsing, body hash, header hash, the private-key operation, folding).
// bench/dkim/run.sh divides these by `openssl speed`'s sign/s for the same key types.
//
// Rates are per second of user CPU time, as `openssl speed` computes its own (times(2)'s
// tms_utime unless -elapsed): on a shared, loaded machine wall-clock rates measure the neighbours.
// The wall-clock rate is printed too.
//
//   outpost-dkim-bench [--seconds N]     prints "ALGORITHM cpu_signs_per_second
//   wall_signs_per_second"
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "mta/dkim/dkim.hpp"

namespace {

using outpost::dkim::Signer;

std::string MakeMessage(std::size_t size) {
  std::string m =
      "From: Newsletter <news@bench.example.com>\r\n"
      "To: Reader <reader@example.net>\r\n"
      "Subject: The weekly digest, with a subject long enough to be folded by some\r\n"
      " mailers onto a second line\r\n"
      "Date: Sun, 22 Nov 2026 11:00:00 +0000\r\n"
      "Message-ID: <bench.1@bench.example.com>\r\n"
      "MIME-Version: 1.0\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n"
      "List-Unsubscribe: <https://bench.example.com/u/1>\r\n"
      "\r\n";
  std::size_t n = 0;
  while (m.size() < size) {
    m += "Line " + std::to_string(n++) +
         " of the body:  some words,\tsome tabs, and trailing space   \r\n";
  }
  return m;
}

std::shared_ptr<const Signer> MakeSigner(const char* type, std::size_t bits) {
  EVP_PKEY* pkey = bits ? EVP_PKEY_Q_keygen(nullptr, nullptr, type, bits)
                        : EVP_PKEY_Q_keygen(nullptr, nullptr, type);
  if (!pkey) return nullptr;
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, pkey, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  auto key = outpost::dkim::ParseSigningKey(std::string_view(data, static_cast<std::size_t>(len)));
  BIO_free(bio);
  EVP_PKEY_free(pkey);
  if (!key.key) return nullptr;
  outpost::dkim::SignOptions options;
  options.domain = "bench.example.com";
  options.selector = "bench";
  return Signer::Create(key.key, options).signer;
}

double UserCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec) / 1e6;
}

struct Rates {
  double cpu = 0;
  double wall = 0;
};

// Signs for `seconds` of wall-clock time (like openssl speed's alarm) and divides the count by the
// user CPU time and by the wall time spent.
Rates Measure(const Signer& signer, const std::string& message, double seconds) {
  using Clock = std::chrono::steady_clock;
  auto start = Clock::now();
  double cpu_start = UserCpuSeconds();
  auto deadline = start + std::chrono::duration<double>(seconds);
  std::size_t count = 0;
  std::size_t bytes = 0;
  Clock::time_point now;
  do {
    for (int i = 0; i < 16; ++i) bytes += signer.Sign(message).header.size();
    count += 16;
    now = Clock::now();
  } while (now < deadline);
  Rates r;
  if (bytes == 0) return r;
  double cpu = UserCpuSeconds() - cpu_start;
  r.cpu = cpu > 0 ? static_cast<double>(count) / cpu : 0;
  r.wall = static_cast<double>(count) / std::chrono::duration<double>(now - start).count();
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 3;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--seconds" && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: outpost-dkim-bench [--seconds N]\n");
      return 2;
    }
  }
  std::string message = MakeMessage(4096);
  struct Case {
    const char* name;
    const char* type;
    std::size_t bits;
  };
  for (Case c : {Case{"rsa2048", "RSA", 2048}, Case{"ed25519", "ED25519", 0}}) {
    auto signer = MakeSigner(c.type, c.bits);
    if (!signer || !signer->Sign(message).ok()) {
      std::fprintf(stderr, "outpost-dkim-bench: cannot sign with %s\n", c.name);
      return 1;
    }
    Rates r = Measure(*signer, message, seconds);
    std::printf("%s %.1f %.1f\n", c.name, r.cpu, r.wall);
    std::fflush(stdout);
  }
  return 0;
}
