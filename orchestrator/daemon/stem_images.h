#pragma once

#include <thread>

#include "builder/builder.h"
#include "pool/pool.h"

namespace gantry::daemon {

// Builds the stem image of each template runtime (python3, node, exec) in the background
// (Builder::BuildStem: an existing tag is not built again) and gives each to the pool
// (Pool::SetStemImage with `count`) as soon as it exists, so gantryd's start never waits
// for them (Builder::RemoveUnused never takes a stem image). A runtime whose image fails
// to build is logged and gets no cells. The builder and pool must outlive it (the
// destructor waits for the build in progress). Start is called once, from one thread.
class StemImages {
 public:
  StemImages(builder::Builder& builder, pool::Pool& pool, int count);
  ~StemImages();
  StemImages(const StemImages&) = delete;
  StemImages& operator=(const StemImages&) = delete;

  // Starts the builds (count 0: does nothing).
  void Start();

 private:
  builder::Builder& builder_;
  pool::Pool& pool_;
  const int count_;
  std::jthread thread_;
};

}  // namespace gantry::daemon
