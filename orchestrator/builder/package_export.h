#pragma once

#include <string>

#include "core/result.h"
#include "docker/docker_client.h"

namespace gantry::builder {

// Exports a function image's package to the host, for stem cells (pool/stem_cells.h):
// `dest_dir`/task (the image's /var/task: the code) and `dest_dir`/deps (its
// /opt/gantry/deps: installed dependencies; empty when the image has none). Reads them
// from a created, never started container of `image` (labelled `labels`, removed before
// returning, also on failure) as tar streams and extracts them with libarchive, safely:
// no absolute paths, no "..", nothing but directories, regular files and symlinks whose
// target stays inside the tree; modes kept without setuid/setgid, owners not. Written into
// a temporary directory beside `dest_dir`, then renamed to it, so `dest_dir` is whole or
// absent; an existing `dest_dir` is taken as done (key it by image id) and nothing is
// read. Returns `dest_dir`. Errors: kNotFound (no such image), kInvalidArgument (an entry
// the rules refuse, named), kInternal (the filesystem's), or the engine's.
// Thread-safe for distinct `dest_dir`s.
core::Result<std::string> ExportPackage(docker::DockerClient& docker, const std::string& image,
                                        const std::string& dest_dir, const docker::Labels& labels);

}  // namespace gantry::builder
