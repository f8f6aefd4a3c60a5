// Start-up recovery (see spool.hpp for the contract and spool_impl.hpp for the sidecar format).
//
// Three passes over the segments:
// 1. Copies. Segments whose sidecar says they may hold compaction copies (kind 4) are scanned,
//    newest first; the first valid copy seen of each root (the newest) is its message's only
//    live location ("winner"). The marks at the winner's root and previous locations are read
//    too, since a crash in the middle of a compaction step can leave marks there that the copy
//    does not have yet.
// 2. The main scan, oldest first: every valid entry is live unless it is finished (its marks),
//    moved (a kind-5 mark, or it is a root or copy that lost to a newer copy), and the live ones
//    are handed to the visitor segment by segment. Marks merged into a winner from elsewhere are
//    appended to the winner's sidecar (synced), and losing entries get a kind-5 mark, so that the
//    outcome no longer depends on segments that are about to go.
// 3. Only then are segments with nothing live deleted: up to this point a crash leaves every
//    input of the decision in place, and the next recovery decides the same way.
//
// Damaged regions in the middle of an old segment cannot be cut out, so after copying them to
// corrupt/ recovery appends a "skip" mark to the segment's sidecar and fsyncs it; later
// recoveries step over the region silently. A torn tail of the newest segment is cut off with
// ftruncate instead.
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "mta/spool/spool_entry.hpp"
#include "mta/spool/spool_impl.hpp"

namespace outpost::spool::internal {
namespace {

struct EntryMarks {
  bool message_done = false;
  bool moved = false;
  std::vector<std::uint32_t> recipients;
};

struct Sidecar {
  std::unordered_map<std::uint64_t, EntryMarks> marks;  // by entry offset
  std::unordered_map<std::uint64_t, std::uint32_t> skips;
  bool holds_copies = false;
};

Sidecar ReadSidecar(const std::string& path) {
  Sidecar out;
  std::string bytes;
  if (!ReadWholeFile(path, bytes)) return out;
  for (std::size_t p = 0; p + kMarkSize <= bytes.size(); p += kMarkSize) {
    const auto* b = reinterpret_cast<const unsigned char*>(bytes.data() + p);
    std::uint32_t value = 0;
    std::uint64_t offset = 0;
    for (int i = 3; i >= 0; --i) value = (value << 8) | b[4 + i];
    for (int i = 7; i >= 0; --i) offset = (offset << 8) | b[8 + i];
    switch (b[0]) {
      case kMarkRecipient:
        out.marks[offset].recipients.push_back(value);
        break;
      case kMarkMessage:
        out.marks[offset].message_done = true;
        break;
      case kMarkSkip:
        if (value > 0) out.skips[offset] = value;
        break;
      case kMarkHoldsCopies:
        out.holds_copies = true;
        break;
      case kMarkMoved:
        out.marks[offset].moved = true;
        break;
      default:
        break;  // unknown kinds are ignored (a newer writer's)
    }
  }
  return out;
}

// Where the next entry that checks out starts, after a damaged one at `from`; `bytes.size()` if
// none does. Both scans resynchronise with this, so they agree on every entry.
std::size_t NextValidEntry(const std::string& bytes, std::size_t from) {
  const std::size_t size = bytes.size();
  for (std::size_t q = from + 1; q + kEntryOverhead <= size; ++q) {
    const void* hit = std::memchr(bytes.data() + q, kEntryMagic[0], size - q);
    if (!hit) break;
    q = static_cast<std::size_t>(static_cast<const char*>(hit) - bytes.data());
    if (CheckEntry(bytes.data() + q, size - q, nullptr, nullptr) == EntryCheck::kOk) return q;
  }
  return size;
}

// One segment's scan (SpoolImpl::RecoverSegment).
struct SegmentScan {
  std::uint32_t number;
  const Winners& winners;
  const Sidecar& sidecar;
  Segment& segment;
  RecoveryReport& report;
  std::string new_marks;  // skip marks for regions moved aside now, merged and moved marks
  // Visited only once the segment is registered, so the visitor may read or mark them.
  std::vector<RecoveredMessage> found;
};

// A checked entry at `pos`: kept when it is the message's newest copy and has recipients left,
// else left dead (a "moved" mark when a newer copy is the message). False when its payload does
// not decode.
bool RecoverEntry(SegmentScan& scan, std::size_t pos, std::size_t entry_size,
                  std::string_view payload) {
  Relocation relocation;
  bool relocated = false;
  RecoveredMessage m;
  if (!DecodeRelocation(payload, &relocation, &relocated, nullptr) ||
      !DecodePayload(payload, m.envelope, nullptr, &m.data_size)) {
    return false;
  }
  const SpoolId here{scan.number, pos};
  const SpoolId root = relocated ? relocation.root : here;
  const auto winner = scan.winners.find(root);
  const bool won = winner != scan.winners.end() && winner->second.at == here;
  EntryMarks own;
  if (auto mk = scan.sidecar.marks.find(pos); mk != scan.sidecar.marks.end()) own = mk->second;
  if (own.moved || (winner != scan.winners.end() && !won)) {
    // A newer copy is the message; say so here, so this entry stays dead whatever happens to
    // that copy's segment later.
    if (!own.moved && !own.message_done) AppendMark(kMarkMoved, 0, pos, scan.new_marks);
    return true;
  }
  m.id = here;
  const std::size_t n = m.envelope.recipients.size();
  m.done_recipients.assign(n, false);
  for (std::uint32_t r : own.recipients) {
    if (r < n) m.done_recipients[r] = true;
  }
  for (std::size_t r = 0; r < n && relocated && r < relocation.done.size(); ++r) {
    if (relocation.done[r]) m.done_recipients[r] = true;
  }
  bool message_done = own.message_done;
  if (won) {
    for (std::uint32_t r : winner->second.done_elsewhere) {
      if (r < n && !m.done_recipients[r]) {
        m.done_recipients[r] = true;
        AppendMark(kMarkRecipient, r, pos, scan.new_marks);
      }
    }
    if (winner->second.finished_elsewhere && !message_done) {
      message_done = true;
      AppendMark(kMarkMessage, 0, pos, scan.new_marks);
    }
  }
  const auto remaining = static_cast<std::uint32_t>(
      std::count(m.done_recipients.begin(), m.done_recipients.end(), false));
  if (!message_done && (remaining > 0 || n == 0)) {
    const auto entry_bytes = static_cast<std::uint32_t>(entry_size);
    scan.segment.live.emplace(pos, MessageState{m.done_recipients, remaining, entry_bytes});
    scan.segment.live_bytes += entry_bytes;
    if (relocated) scan.segment.copies.emplace(pos, CopyIdentity{relocation.root, here});
    scan.report.messages++;
    scan.report.recipients += remaining;
    scan.found.push_back(std::move(m));
  }
  return true;
}

// A damaged region at `pos` (or an entry whose payload did not decode, `decoded_size` > 0): moved
// aside to `corrupt_dir`, reported and skipped by a mark from now on; a torn tail of the last
// segment is cut off the file. Returns where the scan goes on (npos after a torn tail).
std::size_t SetAsideDamage(SegmentScan& scan, std::string& bytes, std::size_t pos, EntryCheck check,
                           std::size_t decoded_size, bool last, const std::string& corrupt_dir) {
  const char* what = EntryCheckName(check);
  std::size_t end = 0;
  if (decoded_size > 0) {
    what = "bad payload";  // crc fine but undecodable: a writer bug or a newer version
    end = pos + decoded_size;
  } else {
    end = NextValidEntry(bytes, pos);  // the damaged region ends where a valid entry starts
  }
  const bool torn = last && end == bytes.size() && check == EntryCheck::kIncomplete;
  char name[64];
  std::snprintf(name, sizeof name, "%08u-%zu.%s", scan.number, pos, torn ? "torn" : "bad");
  const std::string aside = corrupt_dir + "/" + name;
  const bool saved = WriteFileSynced(aside, std::string_view(bytes).substr(pos, end - pos));
  scan.report.problems.push_back(
      "segment " + SegmentFileName(scan.number, "seg") + " offset " + std::to_string(pos) + ": " +
      (torn ? "torn tail" : what) + ", " + std::to_string(end - pos) + " bytes " +
      (saved ? "moved to " + aside : Errno("could not be saved to " + aside)));
  if (torn) {
    scan.report.torn_tails++;
    if (saved && ::ftruncate(scan.segment.fd, static_cast<off_t>(pos)) == 0) {
      ::fsync(scan.segment.fd);
      bytes.resize(pos);
    }
    return std::string::npos;
  }
  scan.report.damaged++;
  if (saved) {
    // XXX: a region over 4 GiB cannot be described by one mark; segments are far smaller.
    AppendMark(kMarkSkip, static_cast<std::uint32_t>(end - pos), pos, scan.new_marks);
  }
  return end;
}

}  // namespace

RecoveryReport SpoolImpl::Recover(const std::function<void(RecoveredMessage&&)>& visit) {
  RecoveryReport report;
  std::vector<std::uint32_t> numbers;
  std::vector<std::uint32_t> orphan_done;
  if (DIR* d = ::opendir(segments_dir_.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::uint32_t n;
      if (ParseSegmentFileName(e->d_name, "seg", n)) numbers.push_back(n);
      if (ParseSegmentFileName(e->d_name, "done", n)) orphan_done.push_back(n);
    }
    ::closedir(d);
  }
  std::sort(numbers.begin(), numbers.end());
  for (std::uint32_t n : orphan_done) {
    if (!std::binary_search(numbers.begin(), numbers.end(), n)) {
      ::unlink((segments_dir_ + "/" + SegmentFileName(n, "done")).c_str());
    }
  }
  const Winners winners = FindCopies(numbers);
  std::vector<std::uint32_t> empty_segments;
  for (std::size_t i = 0; i < numbers.size(); ++i) {
    RecoverSegment(numbers[i], i + 1 == numbers.size(), winners, visit, report, empty_segments);
  }
  for (std::uint32_t n : empty_segments) {
    ::unlink((segments_dir_ + "/" + SegmentFileName(n, "seg")).c_str());
    ::unlink((segments_dir_ + "/" + SegmentFileName(n, "done")).c_str());
    report.segments_removed++;
  }
  FsyncPath(corrupt_dir_);
  FsyncPath(segments_dir_);
  std::lock_guard<std::mutex> lock(mu_);
  damaged_total_ += report.damaged + report.torn_tails;
  return report;
}

Winners SpoolImpl::FindCopies(const std::vector<std::uint32_t>& numbers) {
  Winners winners;
  for (auto n = numbers.rbegin(); n != numbers.rend(); ++n) {
    const Sidecar sidecar = ReadSidecar(segments_dir_ + "/" + SegmentFileName(*n, "done"));
    if (!sidecar.holds_copies) continue;
    std::string bytes;
    if (!ReadWholeFile(segments_dir_ + "/" + SegmentFileName(*n, "seg"), bytes)) continue;
    std::vector<std::pair<SpoolId, CopyWinner>> found;  // (root, copy) in file order
    std::size_t pos = 0;
    while (pos < bytes.size()) {
      if (auto s = sidecar.skips.find(pos); s != sidecar.skips.end()) {
        pos += s->second;
        continue;
      }
      std::string_view payload;
      std::size_t entry_size = 0;
      if (CheckEntry(bytes.data() + pos, bytes.size() - pos, &payload, &entry_size) !=
          EntryCheck::kOk) {
        pos = NextValidEntry(bytes, pos);
        continue;
      }
      Relocation relocation;
      bool relocated = false;
      if (DecodeRelocation(payload, &relocation, &relocated, nullptr) && relocated) {
        found.push_back({relocation.root, CopyWinner{SpoolId{*n, pos}, relocation.previous}});
      }
      pos += entry_size;
    }
    // Newest first: a later copy of the same root in the same segment wins too.
    for (auto f = found.rbegin(); f != found.rend(); ++f) winners.emplace(f->first, f->second);
  }
  if (winners.empty()) return winners;

  // Marks left at the winners' earlier locations.
  std::unordered_map<std::uint32_t, std::vector<std::pair<std::uint64_t, CopyWinner*>>> wanted;
  for (auto& [root, winner] : winners) {
    wanted[root.segment].push_back({root.offset, &winner});
    if (!(winner.previous == root)) {
      wanted[winner.previous.segment].push_back({winner.previous.offset, &winner});
    }
  }
  for (auto& [number, list] : wanted) {
    const Sidecar sidecar = ReadSidecar(segments_dir_ + "/" + SegmentFileName(number, "done"));
    for (auto& [offset, winner] : list) {
      auto m = sidecar.marks.find(offset);
      if (m == sidecar.marks.end()) continue;
      winner->finished_elsewhere = winner->finished_elsewhere || m->second.message_done;
      winner->done_elsewhere.insert(winner->done_elsewhere.end(), m->second.recipients.begin(),
                                    m->second.recipients.end());
    }
  }
  return winners;
}

void SpoolImpl::RecoverSegment(std::uint32_t number, bool last, const Winners& winners,
                               const std::function<void(RecoveredMessage&&)>& visit,
                               RecoveryReport& report, std::vector<std::uint32_t>& empty_segments) {
  const std::string seg_path = segments_dir_ + "/" + SegmentFileName(number, "seg");
  const std::string done_path = segments_dir_ + "/" + SegmentFileName(number, "done");

  // Completion marks first, so the scan knows what is finished and what to skip.
  const Sidecar sidecar = ReadSidecar(done_path);

  auto segment = std::make_shared<Segment>();
  segment->number = number;
  segment->holds_copies = sidecar.holds_copies;
  segment->fd = ::open(seg_path.c_str(), O_RDWR | O_CLOEXEC);
  std::string bytes;
  if (segment->fd < 0 || !ReadWholeFile(seg_path, bytes)) {
    report.problems.push_back(Errno("cannot read segment " + seg_path) +
                              "; left in place, not recovered");
    return;
  }
  SegmentScan scan{number, winners, sidecar, *segment, report, {}, {}};
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    if (auto s = sidecar.skips.find(pos); s != sidecar.skips.end()) {
      pos += s->second;
      continue;
    }
    std::string_view payload;
    std::size_t entry_size = 0;
    const EntryCheck check =
        CheckEntry(bytes.data() + pos, bytes.size() - pos, &payload, &entry_size);
    if (check == EntryCheck::kOk && RecoverEntry(scan, pos, entry_size, payload)) {
      pos += entry_size;
      continue;
    }
    pos = SetAsideDamage(scan, bytes, pos, check, check == EntryCheck::kOk ? entry_size : 0, last,
                         corrupt_dir_);
    if (pos == std::string::npos) break;
  }
  segment->size = bytes.size();

  if (segment->live.empty()) {
    empty_segments.push_back(number);  // deleted once every segment has been decided
    return;
  }
  segment->done_fd = ::open(done_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (segment->done_fd >= 0 && !scan.new_marks.empty()) {
    // Synced so the damage is reported once, not again at every start, and so that merged marks
    // do not depend on the segments deleted at the end of recovery.
    if (WriteAll(segment->done_fd, scan.new_marks.data(), scan.new_marks.size())) {
      ::fsync(segment->done_fd);
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    live_entries_ += segment->live.size();
    live_bytes_ += segment->live_bytes;
    segments_[number] = std::move(segment);
  }
  for (auto& m : scan.found) visit(std::move(m));
}

}  // namespace outpost::spool::internal
