#include "mta/outpostd/privileges.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace outpost::daemon {
namespace {

struct Account {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

bool LookUp(const char* name, Account* account) {
  const passwd* pw = ::getpwnam(name);
  if (pw == nullptr) return false;
  *account = Account{name, pw->pw_uid, pw->pw_gid};
  return true;
}

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

std::string DirOf(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  return dir.empty() ? "." : dir;
}

// Gives `path` (not following a symbolic link) to the account; a missing path is no error.
bool Give(const std::string& path, const Account& to, std::string* error) {
  if (::lchown(path.c_str(), to.uid, to.gid) == 0 || errno == ENOENT) return true;
  *error = Errno("cannot give " + path + " to user " + to.name);
  return false;
}

// The spool directory and everything below it.
bool GiveTree(const std::string& dir, const Account& to, std::string* error) {
  if (!Give(dir, to, error)) return false;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (!Give(it->path().string(), to, error)) return false;
  }
  if (ec) {
    *error = "cannot walk " + dir + ": " + ec.message();
    return false;
  }
  return true;
}

bool GiveFiles(const config::Config& config, const Account& to, std::string* error) {
  if (!GiveTree(config.spool_dir, to, error)) return false;
  if (!config.log_file.empty() && !Give(config.log_file, to, error)) return false;
  for (const config::AcctFile& file : config.acct_files) {
    if (!Give(file.path, to, error)) return false;
    if (file.move_to && !Give(*file.move_to, to, error)) return false;
  }
  return true;
}

bool SwitchTo(const Account& to, std::string* error) {
  if (::setgroups(1, &to.gid) != 0) {
    *error = Errno("setgroups");
    return false;
  }
  if (::setgid(to.gid) != 0) {
    *error = Errno("setgid");
    return false;
  }
  if (::setuid(to.uid) != 0) {
    *error = Errno("setuid");
    return false;
  }
  if (to.uid != 0 && ::setuid(0) == 0) {
    *error = "root could be regained after switching to user " + to.name;
    return false;
  }
#if defined(__SANITIZE_ADDRESS__)
  // Changing uid makes the process non-dumpable, and LeakSanitizer's check at exit (it stops the
  // threads with ptrace) then fails. Sanitizer builds only: a production build stays
  // non-dumpable, so that no other process of the user can read keys out of its memory.
  ::prctl(PR_SET_DUMPABLE, 1);
#endif
  return true;
}

// A directory the daemon must keep creating and renaming files in.
struct Needed {
  std::string path;
  int mode;
  const char* what;
};

std::vector<Needed> WritablePlaces(const config::Config& config) {
  std::vector<Needed> places;
  places.push_back({config.spool_dir, W_OK | X_OK, "the spool directory"});
  if (!config.log_file.empty()) places.push_back({config.log_file, W_OK, "the log file"});
  for (const config::AcctFile& file : config.acct_files) {
    places.push_back({file.path, W_OK, "an accounting file"});
    if (file.move_interval || file.max_size) {
      places.push_back({file.move_to ? *file.move_to : DirOf(file.path), W_OK | X_OK,
                        "the directory a rotating accounting file is moved in"});
    }
  }
  return places;
}

std::vector<std::string> ReadAgainAtReload(const config::Config& config,
                                           const std::string& config_path) {
  std::vector<std::string> files = config.files;
  if (files.empty()) files.push_back(config_path);
  for (const config::DomainKey& key : config.domain_keys) files.push_back(key.key_file);
  if (!config.smtp_server_tls_certificate.empty()) {
    files.push_back(config.smtp_server_tls_certificate);
  }
  if (!config.smtp_server_tls_private_key.empty()) {
    files.push_back(config.smtp_server_tls_private_key);
  }
  return files;
}

}  // namespace

PrivilegeResult ApplyRunAsRoot(const config::Config& config, const std::string& config_path) {
  PrivilegeResult result;
  if (::geteuid() != 0) {
    result.summary = "running as uid " + std::to_string(::geteuid()) +
                     " (not started as root: run-as-root has nothing to drop)";
    return result;
  }
  if (config.run_as_root) {
    result.summary = "running as root (run-as-root yes)";
    return result;
  }
  Account to;
  if (!LookUp(kUnprivilegedUser, &to) && !LookUp(kFallbackUser, &to)) {
    result.ok = false;
    result.error = std::string("run-as-root no: neither user '") + kUnprivilegedUser + "' nor '" +
                   kFallbackUser + "' exists; create one (useradd --system " + kUnprivilegedUser +
                   ") or set run-as-root yes";
    return result;
  }
  if (!GiveFiles(config, to, &result.error) || !SwitchTo(to, &result.error)) {
    result.ok = false;
    return result;
  }
  for (const Needed& place : WritablePlaces(config)) {
    if (::access(place.path.c_str(), place.mode) != 0) {
      result.ok = false;
      result.error = Errno("run-as-root no: user " + to.name + " cannot write " + place.what + " " +
                           place.path) +
                     "; give it (and the directories above it) to that user, or set "
                     "run-as-root yes";
      return result;
    }
  }
  for (const std::string& file : ReadAgainAtReload(config, config_path)) {
    if (::access(file.c_str(), R_OK) != 0) {
      result.warnings.push_back(Errno("user " + to.name + " cannot read " + file) +
                                "; a configuration reload will be refused until it can");
    }
  }
  result.summary = "running as user " + to.name + " (uid " + std::to_string(to.uid) +
                   "), root given up after start-up (run-as-root no)";
  return result;
}

}  // namespace outpost::daemon
