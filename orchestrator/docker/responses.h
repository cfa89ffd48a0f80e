#pragma once

#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "docker/types.h"

// Turning Engine API responses into Gantry's types: pure functions, no I/O. A body that is
// not what the API documents is a kInternal error, never an exception.
namespace gantry::docker {

// Maps a failed call to a typed error carrying the call and the engine's own message
// (the body's "message", or the raw body when it is not JSON):
//   400 -> kInvalidArgument, 404 -> kNotFound, 409 -> kConflict, 503 -> kUnavailable,
//   other 4xx -> kInvalidArgument, anything else -> kInternal.
core::Error ErrorFromResponse(long status, std::string_view body, std::string_view call);

core::Result<nlohmann::json> ParseJson(std::string_view body, std::string_view call);

core::Result<VersionInfo> ParseVersion(const nlohmann::json& j);
core::Result<EngineInfo> ParseInfo(const nlohmann::json& j);
core::Result<ContainerInfo> ParseContainerInspect(const nlohmann::json& j);
core::Result<std::vector<ContainerSummary>> ParseContainerList(const nlohmann::json& j);
core::Result<ImageInfo> ParseImageInspect(const nlohmann::json& j);
core::Result<std::vector<ImageInfo>> ParseImageList(const nlohmann::json& j);
core::Result<NetworkInfo> ParseNetworkInspect(const nlohmann::json& j);
core::Result<std::vector<NetworkInfo>> ParseNetworkList(const nlohmann::json& j);
core::Result<Event> ParseEvent(const nlohmann::json& j);
core::Result<WaitResult> ParseWait(const nlohmann::json& j);
// The id of a created container ({"Id": ..., "Warnings": [...]}).
core::Result<std::string> ParseCreated(const nlohmann::json& j);

}  // namespace gantry::docker
