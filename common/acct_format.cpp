#include "common/acct_format.hpp"

#include "common/csv.hpp"

namespace outpost::acct {
namespace {

constexpr std::array<std::string_view, kFieldCount> kFieldNames = {"type",
                                                                   "timeLogged",
                                                                   "timeQueued",
                                                                   "orig",
                                                                   "rcpt",
                                                                   "orcpt",
                                                                   "dsnAction",
                                                                   "dsnStatus",
                                                                   "dsnDiag",
                                                                   "dsnMta",
                                                                   "bounceCat",
                                                                   "srcType",
                                                                   "srcMta",
                                                                   "dlvType",
                                                                   "dlvSourceIp",
                                                                   "dlvDestinationIp",
                                                                   "dlvEsmtpAvailable",
                                                                   "dlvSize",
                                                                   "vmta",
                                                                   "jobId",
                                                                   "envId",
                                                                   "queue",
                                                                   "vmtaPool",
                                                                   "feedbackType"};

}  // namespace

std::string_view RecordTypeCode(RecordType type) {
  switch (type) {
    case RecordType::kDelivered:
      return "d";
    case RecordType::kBounced:
      return "b";
    case RecordType::kTransient:
      return "t";
    case RecordType::kTransientQueue:
      return "tq";
    case RecordType::kReceived:
      return "r";
    case RecordType::kFeedback:
      return "f";
    case RecordType::kRemoteBounce:
      return "rb";
  }
  return "?";
}

std::optional<RecordType> ParseRecordType(std::string_view code) {
  if (code == "d") return RecordType::kDelivered;
  if (code == "b") return RecordType::kBounced;
  if (code == "t") return RecordType::kTransient;
  if (code == "tq") return RecordType::kTransientQueue;
  if (code == "r") return RecordType::kReceived;
  if (code == "f") return RecordType::kFeedback;
  if (code == "rb") return RecordType::kRemoteBounce;
  return std::nullopt;
}

std::string_view FieldName(Field field) { return kFieldNames[static_cast<std::size_t>(field)]; }

std::optional<Field> ParseFieldName(std::string_view name) {
  for (std::size_t i = 0; i < kFieldCount; ++i) {
    if (kFieldNames[i] == name) return static_cast<Field>(i);
  }
  return std::nullopt;
}

const std::string& DefaultHeader() {
  static const std::string header = [] {
    std::string h;
    for (std::size_t i = 0; i < kFieldCount; ++i) {
      if (i) h += ',';
      h += kFieldNames[i];
    }
    return h;
  }();
  return header;
}

void AppendRecordLine(const Record& record, std::string& out) {
  static const Layout kDefault = Layout::Default();
  AppendRecordLine(record, kDefault, out);
}

Layout Layout::Default() {
  Layout layout;
  for (std::size_t i = 1; i < kFieldCount; ++i) layout.columns.push_back(static_cast<Field>(i));
  for (auto& fills : layout.fills) {
    fills.fill(true);
    fills[static_cast<std::size_t>(Field::kFeedbackType)] = false;
  }
  layout.fills[static_cast<std::size_t>(RecordType::kFeedback)]
              [static_cast<std::size_t>(Field::kFeedbackType)] = true;
  return layout;
}

std::string Layout::Header() const {
  std::string h = "type";
  for (Field f : columns) {
    h += ',';
    h += FieldName(f);
  }
  return h;
}

void AppendRecordLine(const Record& record, const Layout& layout, std::string& out) {
  const auto& fills = layout.fills[static_cast<std::size_t>(record.type)];
  csv::AppendField(RecordTypeCode(record.type), out);
  for (Field f : layout.columns) {
    out += ',';
    if (fills[static_cast<std::size_t>(f)]) csv::AppendField(record[f], out);
  }
  out += "\r\n";
}

}  // namespace outpost::acct
