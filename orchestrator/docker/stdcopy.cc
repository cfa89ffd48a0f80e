#include "docker/stdcopy.h"

#include <algorithm>

namespace gantry::docker {

core::Result<bool> StdcopyDecoder::Feed(std::string_view bytes) {
  while (!bytes.empty()) {
    if (remaining_ == 0) {
      std::size_t take = std::min(header_.size() - header_len_, bytes.size());
      std::copy_n(bytes.begin(), take, header_.begin() + static_cast<std::ptrdiff_t>(header_len_));
      header_len_ += take;
      bytes.remove_prefix(take);
      if (header_len_ < header_.size()) break;
      header_len_ = 0;
      if (header_[0] > 2 || header_[1] != 0 || header_[2] != 0 || header_[3] != 0) {
        return core::Error::Internal(
            "malformed log stream: bad frame header (is the container using a TTY?)");
      }
      stream_ = static_cast<Stream>(header_[0]);
      remaining_ = (uint32_t{header_[4]} << 24) | (uint32_t{header_[5]} << 16) |
                   (uint32_t{header_[6]} << 8) | uint32_t{header_[7]};
      continue;
    }
    std::size_t take = std::min<std::size_t>(remaining_, bytes.size());
    remaining_ -= static_cast<uint32_t>(take);
    std::string_view piece = bytes.substr(0, take);
    bytes.remove_prefix(take);
    if (!on_payload_(stream_, piece)) return false;
  }
  return true;
}

bool LineAssembler::Feed(Stream stream, std::string_view data) {
  std::string& pending = pending_[static_cast<std::size_t>(stream)];
  while (!data.empty()) {
    std::size_t nl = data.find('\n');
    std::string_view part = data.substr(0, nl);
    // Deliver without copying when nothing is pending and the line is complete.
    if (nl != std::string_view::npos && pending.empty() && part.size() <= max_line_) {
      if (!on_line_(stream, part)) return false;
      data.remove_prefix(nl + 1);
      continue;
    }
    std::size_t room = max_line_ - pending.size();
    if (part.size() > room) {
      pending.append(part.substr(0, room));
      data.remove_prefix(room);
      if (!on_line_(stream, pending)) return false;
      pending.clear();
      continue;
    }
    pending.append(part);
    if (nl == std::string_view::npos) break;
    data.remove_prefix(nl + 1);
    if (!on_line_(stream, pending)) return false;
    pending.clear();
  }
  return true;
}

bool LineAssembler::Flush() {
  for (std::size_t i = 0; i < pending_.size(); ++i) {
    if (pending_[i].empty()) continue;
    std::string line = std::move(pending_[i]);
    pending_[i].clear();
    if (!on_line_(static_cast<Stream>(i), line)) return false;
  }
  return true;
}

}  // namespace gantry::docker
