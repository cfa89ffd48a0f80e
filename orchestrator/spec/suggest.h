#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace gantry::spec {

// Returns the candidate nearest to `word` when it is near enough to be a likely typo
// (case and '_'/'-' differences ignored, then an edit distance of at most 1 for short
// words and 2 for longer ones, a transposition counting as one edit); nullopt otherwise.
// Ties go to the earlier candidate.
std::optional<std::string> Suggest(std::string_view word,
                                   std::span<const std::string_view> candidates);

// Restricted Damerau-Levenshtein distance (insert, delete, substitute, swap neighbours).
std::size_t EditDistance(std::string_view a, std::string_view b);

}  // namespace gantry::spec
