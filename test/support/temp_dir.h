#pragma once

// A fresh directory under /tmp for one test (mkdtemp), removed with everything in it when the
// test ends, passed or not.
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

namespace gantry::testing {

struct TempDir {
  explicit TempDir(std::string prefix = "gantry-test") {
    std::string pattern = "/tmp/" + prefix + ".XXXXXX";
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string path;
};

}  // namespace gantry::testing
