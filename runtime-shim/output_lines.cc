#include "output_lines.h"

namespace gantry::shim {

void LineSplitter::Feed(std::string_view bytes) {
  while (!bytes.empty()) {
    auto nl = bytes.find('\n');
    std::string_view piece = bytes.substr(0, nl);
    std::size_t room = max_line_ - partial_.size();
    bool ends_here = nl != std::string_view::npos && piece.size() <= room;
    if (!ends_here && piece.size() >= room) {
      // Never hold more than max_line_ bytes: pass on a full piece of an endless line.
      partial_.append(piece.substr(0, room));
      sink_(partial_);
      partial_.clear();
      bytes.remove_prefix(room);
      continue;
    }
    partial_.append(piece);
    if (nl == std::string_view::npos) return;
    if (!partial_.empty() && partial_.back() == '\r') partial_.pop_back();
    sink_(partial_);
    partial_.clear();
    bytes.remove_prefix(nl + 1);
  }
}

void LineSplitter::Flush() {
  if (partial_.empty()) return;
  if (partial_.back() == '\r') partial_.pop_back();
  sink_(partial_);
  partial_.clear();
}

void TailBuffer::Append(std::string_view bytes) {
  if (bytes.size() >= capacity_) {
    truncated_ = truncated_ || bytes.size() > capacity_ || !data_.empty();
    data_.assign(bytes.substr(bytes.size() - capacity_));
    return;
  }
  data_.append(bytes);
  if (data_.size() > capacity_) {
    data_.erase(0, data_.size() - capacity_);
    truncated_ = true;
  }
}

std::string TailBuffer::Text() const {
  return truncated_ ? "..." + data_ : data_;
}

}  // namespace gantry::shim
