#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace gantry::spec {

// Where a secret's value comes from.
enum class SecretSource { kLiteral, kFile, kEnv };

// SecretSpec is a validated `kind: Secret`: its name and where its value comes from. The
// value itself is read only when the secret is applied (from the literal, the file or the
// environment variable) and never appears in any output of this type: not in the
// canonical JSON, not in Summary(). Immutable, copyable; only ValidateSecret() makes one.
class SecretSpec {
 public:
  const std::string& name() const { return name_; }
  const std::string& namespace_name() const { return namespace_name_; }
  std::string QualifiedName() const { return namespace_name_ + "/" + name_; }
  SecretSource source() const { return source_; }
  // The literal value (kLiteral only). Never print it.
  const std::string& literal() const { return literal_; }
  // The file as written and resolved against the manifest's directory (kFile only).
  const std::string& file() const { return file_; }
  const std::string& file_path() const { return file_path_; }
  // The environment variable (kEnv only).
  const std::string& env_name() const { return env_name_; }

  // "from a literal", "from file ./db.txt", "from env DB_PASSWORD".
  std::string DescribeSource() const;

 private:
  friend class SecretSpecBuilder;
  SecretSpec() = default;

  std::string name_;
  std::string namespace_name_;
  SecretSource source_ = SecretSource::kLiteral;
  std::string literal_;
  std::string file_;
  std::string file_path_;
  std::string env_name_;
};

// Canonical JSON of a secret, without its value: {"apiVersion", "kind": "Secret",
// "metadata": {"name", "namespace"}, "spec": {"from": "literal"|"file"|"env", "file",
// "fromEnv"}} with null for the fields the source does not use.
nlohmann::json ToCanonicalJson(const SecretSpec& secret);

}  // namespace gantry::spec
