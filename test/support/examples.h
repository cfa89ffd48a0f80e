#pragma once

#include <filesystem>
#include <string>

#include "spec/function_spec.h"

namespace gantry::testing {

// Loads the single Function of the manifest file `manifest` into namespace `ns` (inserted
// into its metadata), so that tests running at once never share a function, an image tag
// or a container. FAILs the test when it does not load.
spec::FunctionSpec LoadFunctionInto(const std::string& ns, const std::filesystem::path& manifest);

// examples/<name>/gantry.yaml of this source tree, loaded into `ns`.
spec::FunctionSpec LoadExampleInto(const std::string& ns, const std::string& name);

}  // namespace gantry::testing
