#include "pool/function_table.h"

#include <mutex>

namespace gantry::pool {

std::shared_ptr<FunctionReplicas> FunctionTable::Find(const std::string& key) const {
  std::shared_lock lock(mu_);
  auto it = functions_.find(key);
  return it == functions_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<FunctionReplicas>> FunctionTable::Snapshot() const {
  std::shared_lock lock(mu_);
  std::vector<std::shared_ptr<FunctionReplicas>> out;
  out.reserve(functions_.size());
  for (const auto& [key, fn] : functions_) out.push_back(fn);
  return out;
}

std::shared_ptr<FunctionReplicas> FunctionTable::Insert(std::shared_ptr<FunctionReplicas> fn) {
  std::unique_lock lock(mu_);
  auto [it, inserted] = functions_.try_emplace(fn->key, fn);
  return it->second;
}

void FunctionTable::DropIfRemoved(const std::string& key) {
  std::unique_lock lock(mu_);
  auto it = functions_.find(key);
  if (it != functions_.end() && it->second->removed) functions_.erase(it);
}

}  // namespace gantry::pool
