// Accounting file format shared by outpostd's writer and outpost_exporter's reader.
//
// The format is PowerMTA's (docs/powermta.md, "The accounting file"): RFC 4180 CSV, CRLF line
// ends, a header line naming the columns on every file (first column always `type`). Record
// types: d delivered, b bounced, t transient failure, tq transient failure of a whole queue, r
// received, f feedback loop, rb remote bounce.
//
// Thread-safety: everything here is stateless or immutable.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace outpost::acct {

enum class RecordType {
  kDelivered,
  kBounced,
  kTransient,
  kTransientQueue,
  kReceived,
  kFeedback,
  kRemoteBounce,  // a bounce that came back later by mail (the return path)
};
inline constexpr std::size_t kRecordTypeCount = 7;

// "d", "b", "t", "tq", "r", "f", "rb".
std::string_view RecordTypeCode(RecordType type);
std::optional<RecordType> ParseRecordType(std::string_view code);

// The columns of PowerMTA's default header, in order, then feedbackType (PowerMTA's name for the
// column only f records fill: the report's Feedback-Type).
enum class Field {
  kType,
  kTimeLogged,
  kTimeQueued,
  kOrig,
  kRcpt,
  kOrcpt,
  kDsnAction,
  kDsnStatus,
  kDsnDiag,
  kDsnMta,
  kBounceCat,
  kSrcType,
  kSrcMta,
  kDlvType,
  kDlvSourceIp,
  kDlvDestinationIp,
  kDlvEsmtpAvailable,
  kDlvSize,
  kVmta,
  kJobId,
  kEnvId,
  kQueue,
  kVmtaPool,
  kFeedbackType,
};
inline constexpr std::size_t kFieldCount = 24;

// Column name as it appears in the header ("timeLogged", "dlvSourceIp", ...).
std::string_view FieldName(Field field);
std::optional<Field> ParseFieldName(std::string_view name);

// "type,timeLogged,...,vmtaPool" without the line end.
const std::string& DefaultHeader();

// One accounting record: the default columns, each a plain (unquoted) value; empty means empty.
struct Record {
  RecordType type = RecordType::kReceived;
  std::array<std::string, kFieldCount> fields;  // fields[kType] is filled from `type` on output

  std::string& operator[](Field f) { return fields[static_cast<std::size_t>(f)]; }
  const std::string& operator[](Field f) const { return fields[static_cast<std::size_t>(f)]; }
};

// Appends `record` as one CSV line (RFC 4180 quoting, CRLF) in default-header column order.
void AppendRecordLine(const Record& record, std::string& out);

// Which columns a file has and which of them each record type fills (directive record-fields).
// The default layout is the default header, every type filling every column but feedbackType,
// which only f records fill.
struct Layout {
  std::vector<Field> columns;  // after `type`, in header order
  std::array<std::array<bool, kFieldCount>, kRecordTypeCount> fills{};

  static Layout Default();
  // "type," then the columns' names, without the line end.
  std::string Header() const;
};

// Appends `record` as one CSV line in `layout`'s column order; columns its type does not fill
// stay empty.
void AppendRecordLine(const Record& record, const Layout& layout, std::string& out);

}  // namespace outpost::acct
