#include "mta/smtp/session.hpp"

#include <limits>

#include "common/base64.hpp"
#include "common/constant_time.hpp"
#include "common/strings.hpp"
#include "common/verp.hpp"
#include "mta/log/log.hpp"
#include "mta/smtp/line_reader.hpp"
#include "mta/smtp/message_headers.hpp"
#include "mta/smtp/prepare.hpp"
#include "mta/smtp/reply.hpp"

namespace outpost::smtp {

Session::Session(SessionOptions options) : options_(std::move(options)) {
  if (!options_.routes) options_.routes = std::make_shared<PatternRoutes>(*options_.config);
  base_policy_ = options_.config->SourcePolicyFor(options_.client_ip);
  SetPolicy(base_policy_);
  client_ip_text_ = options_.client_ip.ToString();
}

// smtp-max-auth-failure-rate of the client's source, else the global max-auth-failures-per-ip
// per auth-failure-window. The address's own source decides (a failed AUTH has no user).
Session::AuthFailureCap Session::AuthFailureCapFor() const {
  const config::Config& cfg = *options_.config;
  if (!base_policy_.smtp_max_auth_failure_rate) {
    return {cfg.max_auth_failures_per_ip, cfg.auth_failure_window.count()};
  }
  const config::Rate& rate = *base_policy_.smtp_max_auth_failure_rate;
  const auto most = static_cast<std::uint64_t>(std::numeric_limits<int>::max());
  return {static_cast<int>(rate.count < most ? rate.count : most), rate.per.count()};
}

// log-data: the first lines of the message as it arrived, bounded by kLogDataLines and
// kLogDataBytes; control characters other than tab are shown as '?'.
void Session::LogData() const {
  const std::string_view data(data_);
  const std::string_view head = data.substr(0, kLogDataBytes);
  std::size_t pos = 0;
  for (std::size_t lines = 0; pos < head.size() && lines < kLogDataLines; ++lines) {
    std::size_t eol = head.find("\r\n", pos);
    if (eol == std::string_view::npos) eol = head.size();
    std::string line(head.substr(pos, eol - pos));
    for (char& ch : line) {
      const auto u = static_cast<unsigned char>(ch);
      if ((u < 0x20 && ch != '\t') || u == 0x7f) ch = '?';
    }
    OUTPOST_LOG(kInfo, "smtp") << options_.peer << " data: " << line;
    pos = eol + 2;
  }
  OUTPOST_LOG(kInfo, "smtp") << options_.peer << " data: (" << data.size() << " octets"
                             << (pos < data.size() ? ", the rest not logged)" : ")");
}

void Session::SetPolicy(config::EffectiveSourcePolicy policy) {
  policy_ = std::move(policy);
  route_list_ =
      policy_.pattern_list.empty() ? nullptr : options_.routes->Find(policy_.pattern_list);
}

std::uint64_t Session::max_message_size() const {
  return policy_.max_message_size != 0 ? policy_.max_message_size
                                       : options_.config->max_message_size;
}

std::size_t Session::max_line() const {
  return auth_step_ == AuthStep::kNone ? LineReader::kMaxCommandLine : kMaxAuthLine;
}

std::string Session::ClientLiteral() const {
  if (options_.client_ip.v6) return "[IPv6:" + client_ip_text_ + "]";
  return "[" + client_ip_text_ + "]";
}

std::string Session::Protocol() const {
  if (!esmtp_) return "SMTP";
  std::string p = "ESMTP";
  if (tls_) p += "S";
  if (!auth_user_.empty()) p += "A";
  return p;
}

void Session::ResetTransaction() {
  in_mail_ = false;
  mail_from_.clear();
  env_id_.clear();
  body_8bit_ = false;
  verp_delimiters_.clear();
  recipients_.clear();
  route_signature_ = RouteList::kNoMatch;
  data_.clear();
  data_reader_.reset();
}

bool Session::CanAccept(std::size_t recipients) const {
  if (options_.spool_healthy && !options_.spool_healthy()) return false;
  if (options_.admission && !options_.admission(recipients)) return false;
  return true;
}

Action Session::Fail(std::string& out, int code, std::string_view enhanced, std::string_view text) {
  AppendReply(out, code, enhanced, text);
  if (code >= 500) ++errors_;
  if (errors_ > options_.config->smtp_in_max_errors) {
    OUTPOST_LOG(kInfo, "smtp") << options_.peer << " too many errors (" << errors_ << "), closing";
    AppendReply(out, 421, "4.7.0", options_.config->host_name + " Too many errors, closing");
    return Action::kClose;
  }
  return Action::kContinue;
}

Action Session::Greet(std::string& out) {
  if (!policy_.smtp_service) {
    OUTPOST_LOG(kInfo, "smtp") << options_.peer << " refused: smtp-service no";
    AppendReply(out, 554, "5.7.1", "Access denied");
    return Action::kClose;
  }
  AppendReply(out, 220, "", options_.config->host_name + " ESMTP Outpost");
  return Action::kContinue;
}

Action Session::OnTimeout(std::string& out) {
  AppendReply(out, 421, "4.4.2", options_.config->host_name + " Error: timeout exceeded");
  return Action::kClose;
}

Action Session::OnLineTooLong(std::string& out) {
  if (auth_step_ != AuthStep::kNone) {
    auth_step_ = AuthStep::kNone;
    return Fail(out, 500, "5.5.6", "Authentication exchange line too long");
  }
  return Fail(out, 500, "5.5.2", "Line too long");
}

Action Session::OnLine(std::string_view line, std::string& out) {
  if (auth_step_ != AuthStep::kNone) return AuthResponse(line, out);
  ParseResult parsed = ParseCommand(line);
  if (!parsed.command) {
    return Fail(out, parsed.error.code, parsed.error.enhanced, parsed.error.text);
  }
  return HandleCommand(*parsed.command, out);
}

Action Session::HandleCommand(const Command& cmd, std::string& out) {
  switch (cmd.verb) {
    case Verb::kHelo:
    case Verb::kEhlo:
      return Ehlo(cmd, out);
    case Verb::kMail:
      return Mail(cmd, out);
    case Verb::kRcpt:
      return Rcpt(cmd, out);
    case Verb::kData:
      return Data(out);
    case Verb::kRset:
      ResetTransaction();
      AppendReply(out, 250, "2.0.0", "OK");
      return Action::kContinue;
    case Verb::kNoop:
      AppendReply(out, 250, "2.0.0", "OK");
      return Action::kContinue;
    case Verb::kQuit:
      AppendReply(out, 221, "2.0.0", options_.config->host_name + " closing connection");
      return Action::kClose;
    case Verb::kHelp:
      AppendReply(out, 214, "2.0.0",
                  "Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT HELP VRFY STARTTLS AUTH");
      return Action::kContinue;
    case Verb::kVrfy:
      AppendReply(out, 252, "2.5.0", "Cannot VRFY user, but will accept message for delivery");
      return Action::kContinue;
    case Verb::kStartTls:
      return StartTls(out);
    case Verb::kAuth:
      return Auth(cmd, out);
  }
  return Fail(out, 500, "5.5.1", "Unrecognized command");
}

Action Session::Ehlo(const Command& cmd, std::string& out) {
  ResetTransaction();
  helo_ = cmd.argument;
  esmtp_ = cmd.verb == Verb::kEhlo;
  const std::string& host = options_.config->host_name;
  if (!esmtp_) {
    AppendReply(out, 250, "", host);
    return Action::kContinue;
  }
  std::vector<std::string> lines;
  lines.reserve(8);
  lines.push_back(host + " Hello " + helo_ + " " + ClientLiteral());
  lines.emplace_back("PIPELINING");
  // max-message-size unlimited: "SIZE 0" says there is no fixed maximum (RFC 1870 section 4).
  const std::uint64_t size_limit = max_message_size();
  lines.push_back("SIZE " + std::to_string(size_limit == std::numeric_limits<std::uint64_t>::max()
                                               ? 0
                                               : size_limit));
  lines.emplace_back("8BITMIME");
  lines.emplace_back("XVERP");
  lines.emplace_back("ENHANCEDSTATUSCODES");
  if (options_.tls_available && !tls_ && policy_.allow_starttls) lines.emplace_back("STARTTLS");
  if ((tls_ || policy_.AuthInClear()) && auth_user_.empty()) lines.emplace_back("AUTH PLAIN LOGIN");
  AppendMultilineReply(out, 250, lines);
  return Action::kContinue;
}

Action Session::Mail(const Command& cmd, std::string& out) {
  if (helo_.empty()) return Fail(out, 503, "5.5.1", "Send HELO/EHLO first");
  if (in_mail_) return Fail(out, 503, "5.5.1", "Nested MAIL command");
  if (policy_.require_auth && auth_user_.empty()) {
    return Fail(out, 530, "5.7.0", "Authentication required");
  }
  if (cmd.size && *cmd.size > max_message_size()) {
    return Fail(out, 552, "5.3.4", "Message size exceeds fixed maximum message size");
  }
  in_mail_ = true;
  mail_from_ = cmd.address;
  env_id_ = cmd.env_id;
  body_8bit_ = cmd.body == BodyType::k8BitMime;
  // XVERP asks for VERP for this message; verp-default asks for it for every message.
  verp_delimiters_ = !cmd.verp_delimiters.empty() ? cmd.verp_delimiters
                     : policy_.verp_default       ? std::string(kDefaultVerpDelimiters)
                                                  : std::string();
  recipients_.clear();
  AppendReply(out, 250, "2.1.0", "Sender OK");
  return Action::kContinue;
}

// relay-domain (the return path): mail for these domains is accepted from any client.
bool Session::IsForRelayDomain(const std::string& address) const {
  const std::size_t at = address.rfind('@');
  return at != std::string::npos &&
         options_.config->IsRelayDomain(std::string_view(address).substr(at + 1));
}

Action Session::Rcpt(const Command& cmd, std::string& out) {
  if (!in_mail_) return Fail(out, 503, "5.5.1", "Need MAIL before RCPT");
  if (!policy_.always_allow_relaying && !IsForRelayDomain(cmd.address)) {
    if (options_.counters) ++options_.counters->relay_denied;
    OUTPOST_LOG(kInfo, "smtp") << options_.peer << " relaying denied: from=<" << mail_from_
                               << "> to=<" << cmd.address << ">";
    return Fail(out, 550, "5.7.1", "Relaying denied");
  }
  if (cmd.domain_is_literal) {
    return Fail(out, 550, "5.7.1", "Address literals are not accepted as recipients");
  }
  if (options_.refuse_recipient) {
    const std::string why = options_.refuse_recipient(cmd.address);
    if (!why.empty()) {
      AppendReply(out, 550, "5.7.1", why);
      return Action::kContinue;
    }
  }
  if (recipients_.size() >= static_cast<std::size_t>(options_.config->max_rcpt_per_message)) {
    AppendReply(out, 452, "4.5.3", "Too many recipients");
    return Action::kContinue;
  }
  if (!CanAccept(recipients_.size() + 1)) {
    AppendReply(out, 452, "4.3.1", "Insufficient system storage");
    return Action::kContinue;
  }
  if (route_list_ != nullptr) {
    const std::size_t signature = route_list_->Signature(mail_from_, cmd.address);
    if (!recipients_.empty() && signature != route_signature_) {
      AppendReply(out, 452, "4.5.3",
                  "Recipient is routed through another virtual MTA; send it in another "
                  "transaction");
      return Action::kContinue;
    }
    route_signature_ = signature;
  }
  recipients_.push_back(cmd.address);
  AppendReply(out, 250, "2.1.5", "Recipient OK");
  return Action::kContinue;
}

Action Session::Data(std::string& out) {
  if (!in_mail_) return Fail(out, 503, "5.5.1", "Need MAIL command");
  if (recipients_.empty()) return Fail(out, 554, "5.5.1", "No valid recipients");
  if (!CanAccept(recipients_.size())) {
    AppendReply(out, 452, "4.3.1", "Insufficient system storage");
    return Action::kContinue;
  }
  data_.clear();
  const std::uint64_t max = max_message_size();
  data_.reserve(static_cast<std::size_t>(max < 65536 ? max : 65536));
  data_reader_.emplace(&data_, max,
                       policy_.normalize_bare_line_ends ? DataReader::BareLineEnds::kNormalize
                                                        : DataReader::BareLineEnds::kReject);
  AppendReply(out, 354, "", "End data with <CR><LF>.<CR><LF>");
  return Action::kReadData;
}

Action Session::OnDataEnd(std::string& out) {
  const DataReader::Error error = data_reader_->error();
  const std::uint64_t size = data_reader_->size();
  if (error != DataReader::Error::kNone) {
    if (options_.counters) ++options_.counters->messages_rejected;
    OUTPOST_LOG(kInfo, "smtp") << options_.peer << " rejected message from=<" << mail_from_
                               << "> size=" << size << ": " << DataReaderErrorName(error);
    ResetTransaction();
    switch (error) {
      case DataReader::Error::kBareLineEnding:
        return Fail(out, 550, "5.6.11", "Bare CR or LF not allowed");
      case DataReader::Error::kTooBig:
        return Fail(out, 552, "5.3.4", "Message size exceeds fixed maximum message size");
      case DataReader::Error::kLineTooLong:
        return Fail(out, 554, "5.6.0", "Message line longer than 998 octets");
      case DataReader::Error::kNone:
        break;
    }
  }
  data_reader_.reset();
  if (policy_.log_data) LogData();
  Transaction t;
  t.mail_from = mail_from_;
  t.recipients = std::move(recipients_);
  t.env_id = env_id_;
  t.client_ip = client_ip_text_;
  t.client_literal = ClientLiteral();
  t.helo = helo_;
  t.auth_user = auth_user_;
  t.protocol = Protocol();
  t.body_8bit = body_8bit_;
  t.verp_delimiters = verp_delimiters_;
  t.data = std::move(data_);
  Prepared prepared = PrepareMessage(std::move(t), *options_.config, policy_, route_list_,
                                     options_.new_queue_id(), options_.now());
  if (!prepared.refusal.empty()) {
    if (options_.counters) ++options_.counters->messages_rejected;
    OUTPOST_LOG(kInfo, "smtp") << options_.peer << " rejected message from=<" << mail_from_
                               << ">: " << prepared.refusal;
    pending_ = spool::SpoolMessage{};
    ResetTransaction();
    return Fail(out, 550, "5.7.1", "Unknown virtual MTA");
  }
  pending_ = std::move(prepared.message);
  ResetTransaction();
  return Action::kCommit;
}

spool::SpoolMessage Session::TakeMessage() {
  committed_envelope_ = pending_.envelope;
  committed_size_ = pending_.data.size();
  spool::SpoolMessage message = std::move(pending_);
  pending_ = spool::SpoolMessage{};
  return message;
}

Action Session::OnCommitResult(spool::CommitStatus status, std::string& out) {
  if (status == spool::CommitStatus::kOk) {
    AppendReply(out, 250, "2.0.0", "OK " + committed_envelope_.id);
  } else {
    if (options_.counters) ++options_.counters->messages_rejected;
    OUTPOST_LOG(kWarning, "smtp") << options_.peer << " spool refused message "
                                  << committed_envelope_.id << ": "
                                  << spool::CommitStatusName(status);
    AppendReply(out, 452, "4.3.1", "Insufficient system storage");
  }
  return Action::kContinue;
}

Action Session::StartTls(std::string& out) {
  if (tls_) return Fail(out, 503, "5.5.1", "TLS already active");
  if (!options_.tls_available || !policy_.allow_starttls) {
    return Fail(out, 502, "5.5.1", "STARTTLS not available");
  }
  AppendReply(out, 220, "2.0.0", "Ready to start TLS");
  return Action::kStartTls;
}

void Session::OnTlsEstablished(std::string_view protocol_and_cipher) {
  OUTPOST_LOG(kDebug, "smtp") << options_.peer << " TLS established " << protocol_and_cipher;
  // RFC 3207 4.2: forget everything learnt before TLS.
  ResetTransaction();
  helo_.clear();
  esmtp_ = false;
  auth_user_.clear();
  SetPolicy(base_policy_);
  tls_ = true;
}

Action Session::Auth(const Command& cmd, std::string& out) {
  if (helo_.empty() || !esmtp_) return Fail(out, 503, "5.5.1", "Send EHLO first");
  if (!tls_ && !policy_.AuthInClear()) {
    return Fail(out, 538, "5.7.11", "Encryption required for requested authentication mechanism");
  }
  if (!auth_user_.empty()) return Fail(out, 503, "5.5.1", "Already authenticated");
  if (in_mail_) return Fail(out, 503, "5.5.1", "AUTH not allowed during a mail transaction");
  const AuthFailureCap cap = AuthFailureCapFor();
  if (options_.auth_failures_by_ip != nullptr &&
      options_.auth_failures_by_ip->Blocked(options_.client_ip, cap.max_failures, cap.window,
                                            options_.now())) {
    // No password is checked: a guesser that reconnects gets nowhere until the window passes.
    OUTPOST_LOG(kWarning, "smtp") << options_.peer
                                  << " AUTH refused: too many failures from this address";
    AppendReply(out, 454, "4.7.0", "Too many authentication failures, try again later");
    return Action::kContinue;
  }
  std::string_view arg = cmd.argument;
  const std::size_t space = arg.find(' ');
  const std::string_view mech = arg.substr(0, space);
  std::string_view initial =
      space == std::string_view::npos ? std::string_view() : arg.substr(space + 1);
  while (!initial.empty() && initial.front() == ' ') initial.remove_prefix(1);
  if (IEquals(mech, "PLAIN")) {
    if (initial.empty()) {
      auth_step_ = AuthStep::kPlain;
      AppendReply(out, 334, "", "");
      return Action::kContinue;
    }
    auth_step_ = AuthStep::kPlain;
    return AuthResponse(initial, out);
  }
  if (IEquals(mech, "LOGIN")) {
    if (initial.empty()) {
      auth_step_ = AuthStep::kLoginUser;
      AppendReply(out, 334, "", EncodeBase64("Username:"));
      return Action::kContinue;
    }
    auth_step_ = AuthStep::kLoginUser;
    return AuthResponse(initial, out);
  }
  return Fail(out, 504, "5.5.4", "Unrecognized authentication type");
}

Action Session::AuthResponse(std::string_view line, std::string& out) {
  const AuthStep step = auth_step_;
  auth_step_ = AuthStep::kNone;
  if (line == "*") return Fail(out, 501, "5.0.0", "Authentication cancelled");
  std::optional<std::string> decoded = line == "=" ? std::string() : DecodeBase64(line);
  if (!decoded) return Fail(out, 501, "5.5.2", "Invalid base64 data");
  switch (step) {
    case AuthStep::kPlain: {
      // authzid NUL authcid NUL passwd
      const std::size_t first = decoded->find('\0');
      const std::size_t second =
          first == std::string::npos ? std::string::npos : decoded->find('\0', first + 1);
      if (second == std::string::npos) return FinishAuth("", "", out);
      const std::string_view d(*decoded);
      const std::string_view authzid = d.substr(0, first);
      const std::string_view authcid = d.substr(first + 1, second - first - 1);
      const std::string_view password = d.substr(second + 1);
      if (!authzid.empty() && authzid != authcid) return FinishAuth("", "", out);
      return FinishAuth(authcid, password, out);
    }
    case AuthStep::kLoginUser:
      login_user_ = std::move(*decoded);
      auth_step_ = AuthStep::kLoginPassword;
      AppendReply(out, 334, "", EncodeBase64("Password:"));
      return Action::kContinue;
    case AuthStep::kLoginPassword: {
      const std::string user = std::move(login_user_);
      login_user_.clear();
      return FinishAuth(user, *decoded, out);
    }
    case AuthStep::kNone:
      break;
  }
  return Fail(out, 503, "5.5.1", "Bad sequence of commands");
}

Action Session::FinishAuth(std::string_view user, std::string_view password, std::string& out) {
  const config::SmtpUser* account =
      user.empty() ? nullptr : options_.config->FindSmtpUser(std::string(user));
  // Compare even for unknown users so timing does not tell which names exist.
  const bool match =
      ConstantTimeEquals(account ? account->password : std::string_view("x"), password) &&
      account != nullptr;
  if (!match) {
    ++auth_failures_;
    reply_delay_ = options_.config->smtp_in_auth_failure_delay;
    if (options_.counters) ++options_.counters->auth_failures;
    if (options_.auth_failures_by_ip != nullptr) {
      const AuthFailureCap cap = AuthFailureCapFor();
      options_.auth_failures_by_ip->RecordFailure(options_.client_ip, cap.max_failures, cap.window,
                                                  options_.now());
    }
    std::string safe_user;
    for (char c : user.substr(0, 64)) {
      safe_user.push_back(static_cast<unsigned char>(c) < 0x20 ? '?' : c);
    }
    OUTPOST_LOG(kWarning, "smtp") << options_.peer << " AUTH failed for user=" << safe_user;
    if (auth_failures_ >= kMaxAuthFailures) {
      AppendReply(out, 535, "5.7.8", "Authentication credentials invalid");
      AppendReply(out, 421, "4.7.0",
                  options_.config->host_name + " Too many authentication failures");
      return Action::kClose;
    }
    return Fail(out, 535, "5.7.8", "Authentication credentials invalid");
  }
  auth_user_ = account->name;
  if (!account->source.empty()) {
    SetPolicy(options_.config->NamedSourcePolicy(account->source, base_policy_));
  }
  OUTPOST_LOG(kInfo, "smtp") << options_.peer << " AUTH ok user=" << auth_user_;
  AppendReply(out, 235, "2.7.0", "Authentication successful");
  return Action::kContinue;
}

}  // namespace outpost::smtp
