#include "gateway/upstream_pool.h"

#include <sys/socket.h>

#include <cerrno>
#include <iterator>

namespace gantry::gateway {

bool LooksReusable(UpstreamSocket& socket) {
  if (!socket.is_open()) return false;
  char c;
  ssize_t n = ::recv(socket.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

std::optional<UpstreamSocket> UpstreamPool::Take(std::string_view key) {
  std::lock_guard lock(mu_);
  auto it = idle_.find(key);
  if (it == idle_.end()) return std::nullopt;
  auto& sockets = it->second;
  while (!sockets.empty()) {
    UpstreamSocket s = std::move(sockets.back());
    sockets.pop_back();
    // Most recently used first: the likeliest to be open. A stale one is closed here.
    if (LooksReusable(s)) return s;
  }
  return std::nullopt;
}

void UpstreamPool::Put(std::string_view key, UpstreamSocket socket) {
  std::lock_guard lock(mu_);
  auto now = std::chrono::steady_clock::now();
  if (now - last_prune_ >= std::chrono::seconds(1)) {
    last_prune_ = now;
    PruneLocked();
  }
  auto it = idle_.find(key);
  if (it == idle_.end()) it = idle_.emplace(std::string(key), std::vector<UpstreamSocket>{}).first;
  if (it->second.size() >= max_idle_per_key_) return;  // `socket` closes as it goes
  it->second.push_back(std::move(socket));
}

void UpstreamPool::Prune() {
  std::lock_guard lock(mu_);
  PruneLocked();
}

void UpstreamPool::PruneLocked() {
  for (auto it = idle_.begin(); it != idle_.end();) {
    std::erase_if(it->second, [](UpstreamSocket& s) { return !LooksReusable(s); });
    it = it->second.empty() ? idle_.erase(it) : std::next(it);
  }
}

void UpstreamPool::Clear() {
  std::lock_guard lock(mu_);
  idle_.clear();
}

std::size_t UpstreamPool::IdleCount(std::string_view key) const {
  std::lock_guard lock(mu_);
  auto it = idle_.find(key);
  return it == idle_.end() ? 0 : it->second.size();
}

}  // namespace gantry::gateway
