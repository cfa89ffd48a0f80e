#include "gateway/invoke_path.h"

namespace gantry::gateway {

core::Result<InvokePath> ParseInvokePath(std::string_view target) {
  if (target.substr(0, kInvokePrefix.size()) != kInvokePrefix) {
    return core::Error::InvalidArgument("not an invoke path: " + std::string(target));
  }
  std::string_view rest = target.substr(kInvokePrefix.size());
  std::size_t end = rest.find_first_of("/?");
  std::string_view first = rest.substr(0, end);
  rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);

  InvokePath out;
  std::size_t dot = first.find('.');
  std::string_view name = first.substr(0, dot);
  std::string_view ns = dot == std::string_view::npos ? kDefaultNamespace : first.substr(dot + 1);
  if (name.empty())
    return core::Error::InvalidArgument("no function name in " + std::string(target));
  if (ns.empty()) return core::Error::InvalidArgument("empty namespace in " + std::string(target));
  if (first.find('%') != std::string_view::npos) {
    return core::Error::InvalidArgument("escaped characters in a function name: " +
                                        std::string(first));
  }
  out.name = name;
  out.ns = ns;
  if (rest.empty() || rest.front() == '?') out.path = "/";
  out.path.append(rest);
  return out;
}

}  // namespace gantry::gateway
