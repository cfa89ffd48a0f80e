#pragma once

#include <string>
#include <vector>

#include "core/result.h"
#include "spec/function_manifest.h"
#include "spec/function_spec.h"
#include "spec/secret_spec.h"

namespace gantry::spec {

// One problem with one field: `path` as in the manifest ("spec.scale.max",
// "spec.command[0]", "metadata.labels.team"), `message` without the path ("must be ≥
// spec.scale.min (2)").
struct FieldError {
  std::string path;
  std::string message;
  bool about_key = false;  // the error is about the name of the field (an env name), not its value

  bool operator==(const FieldError&) const = default;
};

// Checks every field of `manifest` and fills in the defaults. Returns the FunctionSpec when
// nothing is wrong. Otherwise appends one FieldError per problem to `errors` — all of them,
// not only the first — and returns InvalidArgument("N errors"). Pure: it does not look at
// the filesystem (whether `source` exists is the caller's to check).
core::Result<FunctionSpec> ValidateFunction(const FunctionManifest& manifest,
                                            std::vector<FieldError>& errors);

// The same for a secret: name, namespace, and exactly one of value, file or fromEnv.
core::Result<SecretSpec> ValidateSecret(const SecretManifest& manifest,
                                        std::vector<FieldError>& errors);

// Joins `relative` onto `base_dir` ("" or "." base leaves it as is; an absolute `relative`
// wins) and normalises "." and ".." lexically.
std::string ResolvePath(const std::string& base_dir, const std::string& relative);

// Lexically normalised relative form: "./src/" -> "src", "a/../b" -> "b", "." for empty.
std::string NormalizePath(const std::string& path);

}  // namespace gantry::spec
