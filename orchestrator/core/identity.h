#pragma once

namespace gantry::core {

// The label naming the gantryd instance that made a container, image, network or volume
// (its value: the id kept in that gantryd's state directory). Every selector a gantryd
// lists, adopts, removes or prunes by includes it, so instances sharing an engine never
// touch each other's objects.
inline constexpr const char* kInstanceLabel = "gantry.instance";

}  // namespace gantry::core
