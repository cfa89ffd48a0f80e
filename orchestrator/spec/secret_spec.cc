#include "spec/secret_spec.h"

#include "spec/function_manifest.h"

namespace gantry::spec {

std::string SecretSpec::DescribeSource() const {
  switch (source_) {
    case SecretSource::kLiteral:
      return "from a literal value";
    case SecretSource::kFile:
      return "from file " + file_;
    case SecretSource::kEnv:
      return "from env " + env_name_;
  }
  return "";
}

nlohmann::json ToCanonicalJson(const SecretSpec& secret) {
  auto or_null = [](bool used, const std::string& s) {
    return used ? nlohmann::json(s) : nlohmann::json(nullptr);
  };
  std::string from = secret.source() == SecretSource::kLiteral ? "literal"
                     : secret.source() == SecretSource::kFile  ? "file"
                                                               : "env";
  return {
      {"apiVersion", std::string(kApiVersion)},
      {"kind", "Secret"},
      {"metadata", {{"name", secret.name()}, {"namespace", secret.namespace_name()}}},
      {"spec",
       {{"from", from},
        {"file", or_null(secret.source() == SecretSource::kFile, secret.file())},
        {"fromEnv", or_null(secret.source() == SecretSource::kEnv, secret.env_name())}}},
  };
}

}  // namespace gantry::spec
