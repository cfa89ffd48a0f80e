#include "manifest/yaml_tree.h"

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <cstdint>
#include <set>
#include <sstream>
#include <unordered_map>

namespace gantry::manifest {
namespace {

using NodePtr = std::shared_ptr<const YamlNode>;

Position ToPosition(const YAML::Mark& mark) {
  if (mark.is_null()) return {};
  return {mark.line + 1, mark.column + 1};
}

// Decodes the UTF-8 sequence at text[i]: its length in bytes and code point, or 0 when the
// bytes there are not well-formed UTF-8 (overlong forms and surrogates included).
std::size_t DecodeUtf8(std::string_view text, std::size_t i, std::uint32_t* code) {
  auto byte = static_cast<unsigned char>(text[i]);
  std::size_t length = byte < 0x80           ? 1
                       : (byte >> 5) == 0x6  ? 2
                       : (byte >> 4) == 0xe  ? 3
                       : (byte >> 3) == 0x1e ? 4
                                             : 0;
  if (length == 0 || i + length > text.size()) return 0;
  std::uint32_t value = length == 1 ? byte : byte & (0x7fu >> length);
  for (std::size_t k = 1; k < length; ++k) {
    auto next = static_cast<unsigned char>(text[i + k]);
    if ((next & 0xc0) != 0x80) return 0;
    value = (value << 6) | (next & 0x3fu);
  }
  static constexpr std::uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
  if (value < kMinForLength[length] || (value >= 0xd800 && value <= 0xdfff) || value > 0x10ffff) {
    return 0;
  }
  *code = value;
  return length;
}

// YAML's c-printable set: what may appear in a YAML file at all.
bool IsYamlPrintable(std::uint32_t c) {
  return c == 0x09 || c == 0x0a || c == 0x0d || (c >= 0x20 && c <= 0x7e) || c == 0x85 ||
         (c >= 0xa0 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd) ||
         (c >= 0x10000 && c <= 0x10ffff);
}

// The first character of a file that YAML does not allow, with a reason. yaml-cpp lets
// some through (and turns them into bytes that are not UTF-8), and everything downstream
// — JSON output, hashing, environment variables — wants text.
std::optional<YamlError> FindBadCharacter(std::string_view text) {
  Position at{1, 1};
  std::size_t i = 0;
  while (i < text.size()) {
    std::uint32_t code = 0;
    std::size_t length = DecodeUtf8(text, i, &code);
    if (length == 0) return YamlError{at, "file is not valid UTF-8 here"};
    if (!IsYamlPrintable(code)) {
      return YamlError{at, fmt::format("character U+{:04X} is not allowed in YAML", code)};
    }
    if (code == '\n') {
      ++at.line;
      at.column = 1;
    } else {
      ++at.column;
    }
    i += length;
  }
  return std::nullopt;
}

// Why a scalar's value (after YAML escapes such as "\0" or "\xff") cannot be used as text.
std::optional<std::string> CheckScalarText(std::string_view value) {
  std::size_t i = 0;
  while (i < value.size()) {
    std::uint32_t code = 0;
    std::size_t length = DecodeUtf8(value, i, &code);
    if (length == 0) return "string is not valid UTF-8";
    if (code == 0) return "string contains a NUL character";
    i += length;
  }
  return std::nullopt;
}

// Thrown from inside the event handler to stop yaml-cpp when a limit is passed.
struct LimitExceeded {
  Position position;
  std::string message;
};

// Builds YamlNode trees from yaml-cpp's parse events, one document at a time.
class TreeBuilder : public YAML::EventHandler {
 public:
  TreeBuilder(const YamlLimits& limits, std::vector<YamlError>& errors)
      : limits_(limits), errors_(errors) {}

  void OnDocumentStart(const YAML::Mark& mark) override {
    ++documents_started_;
    stack_.clear();
    root_.reset();
    start_ = ToPosition(mark);
  }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto node = std::make_shared<YamlNode>();
    node->kind = YamlNode::Kind::kNull;
    node->position = ToPosition(mark);
    // yaml-cpp marks an empty value at the next token; the key's place is more useful.
    if (!stack_.empty() && stack_.back().node->kind == YamlNode::Kind::kMapping &&
        stack_.back().key) {
      node->position = stack_.back().key->position;
    }
    Count(1, node->position);
    Finish(std::move(node), anchor);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) {
      // yaml-cpp numbers an anchor when it starts: an alias to an unfinished anchor is an
      // alias inside its own anchored node, which would make the tree infinite.
      throw LimitExceeded{ToPosition(mark), "alias refers to a node that contains it"};
    }
    CheckDepth(static_cast<int>(stack_.size()) + it->second->height, ToPosition(mark));
    Count(it->second->size, ToPosition(mark));
    Attach(it->second);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    auto node = std::make_shared<YamlNode>();
    node->kind = YamlNode::Kind::kScalar;
    node->position = ToPosition(mark);
    node->value = value;
    if (auto why = CheckScalarText(value)) {
      errors_.push_back({node->position, *why, documents_started_ - 1});
    }
    node->plain = tag == "?" || tag == "tag:yaml.org,2002:int" ||
                  tag == "tag:yaml.org,2002:float" || tag == "tag:yaml.org,2002:bool" ||
                  tag == "tag:yaml.org,2002:null";
    Count(1, node->position);
    Finish(std::move(node), anchor);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    Open(YamlNode::Kind::kSequence, mark, anchor);
  }
  void OnSequenceEnd() override { Close(); }

  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    Open(YamlNode::Kind::kMapping, mark, anchor);
  }
  void OnMapEnd() override { Close(); }

  // The finished document's root, or a null node for an empty document.
  NodePtr TakeRoot() {
    NodePtr root = std::move(root_);
    root_.reset();
    if (!root) {
      auto empty = std::make_shared<YamlNode>();
      empty->position = start_;
      root = std::move(empty);
    }
    return root;
  }
  Position start() const { return start_; }

 private:
  struct Frame {
    std::shared_ptr<YamlNode> node;
    YAML::anchor_t anchor = 0;
    NodePtr key;  // mappings: the key waiting for its value
  };

  void Count(std::size_t nodes, Position at) {
    nodes_ += nodes;
    if (nodes_ > limits_.max_nodes) {
      throw LimitExceeded{at, fmt::format("document too large: more than {} nodes (an alias counts "
                                          "its whole node each time it is used)",
                                          limits_.max_nodes)};
    }
  }

  void CheckDepth(int depth, Position at) const {
    if (depth > limits_.max_depth) {
      throw LimitExceeded{at,
                          fmt::format("nested too deeply: more than {} levels", limits_.max_depth)};
    }
  }

  void Open(YamlNode::Kind kind, const YAML::Mark& mark, YAML::anchor_t anchor) {
    CheckDepth(static_cast<int>(stack_.size()) + 1, ToPosition(mark));
    auto node = std::make_shared<YamlNode>();
    node->kind = kind;
    node->position = ToPosition(mark);
    Count(1, node->position);
    stack_.push_back({std::move(node), anchor, nullptr});
  }

  void Close() {
    Frame frame = std::move(stack_.back());
    stack_.pop_back();
    if (frame.node->kind == YamlNode::Kind::kMapping) {
      if (frame.key) {
        // A key without a value cannot happen with a well-formed event stream; keep the
        // key with a null value rather than lose it.
        auto null_value = std::make_shared<YamlNode>();
        null_value->position = frame.key->position;
        frame.node->entries.push_back({frame.key, null_value, false});
      }
      ApplyMerges(*frame.node);
    }
    std::size_t size = 1;
    int height = 0;
    for (const NodePtr& item : frame.node->items) {
      size += item->size;
      height = std::max(height, item->height);
    }
    for (const YamlNode::Entry& e : frame.node->entries) {
      size += e.key->size + e.value->size;
      height = std::max({height, e.key->height, e.value->height});
    }
    frame.node->size = size;
    frame.node->height = height + 1;
    Finish(std::move(frame.node), frame.anchor);
  }

  // "<<: {…}" or "<<: [*a, *b]" in a mapping adds the keys of the merged mappings that the
  // mapping does not set itself; with a list, earlier mappings win (YAML merge-key spec).
  void ApplyMerges(YamlNode& map) {
    std::vector<YamlNode::Entry> own;
    std::vector<NodePtr> sources;
    for (YamlNode::Entry& e : map.entries) {
      bool is_merge =
          e.key->kind == YamlNode::Kind::kScalar && e.key->plain && e.key->value == "<<";
      if (!is_merge) {
        own.push_back(std::move(e));
        continue;
      }
      if (e.value->kind == YamlNode::Kind::kMapping) {
        sources.push_back(e.value);
      } else if (e.value->kind == YamlNode::Kind::kSequence &&
                 std::all_of(e.value->items.begin(), e.value->items.end(), [](const NodePtr& n) {
                   return n->kind == YamlNode::Kind::kMapping;
                 })) {
        for (const NodePtr& item : e.value->items) sources.push_back(item);
      } else {
        errors_.push_back(
            {e.value->position,
             fmt::format("merge key \"<<\" needs a mapping or a list of mappings, got {}",
                         DescribeKind(*e.value)),
             documents_started_ - 1});
      }
    }
    std::set<std::string> present;
    for (const YamlNode::Entry& e : own) {
      if (e.key->kind == YamlNode::Kind::kScalar) present.insert(e.key->value);
    }
    for (const NodePtr& source : sources) {
      for (const YamlNode::Entry& e : source->entries) {
        if (e.key->kind != YamlNode::Kind::kScalar || !present.insert(e.key->value).second)
          continue;
        Count(e.key->size + e.value->size, map.position);
        own.push_back({e.key, e.value, true});
      }
    }
    map.entries = std::move(own);
  }

  void Finish(NodePtr node, YAML::anchor_t anchor) {
    if (anchor != 0) anchors_[anchor] = node;
    Attach(std::move(node));
  }

  void Attach(NodePtr node) {
    if (stack_.empty()) {
      root_ = std::move(node);
      return;
    }
    Frame& top = stack_.back();
    if (top.node->kind == YamlNode::Kind::kSequence) {
      top.node->items.push_back(std::move(node));
    } else if (!top.key) {
      top.key = std::move(node);
    } else {
      top.node->entries.push_back({std::move(top.key), std::move(node), false});
      top.key.reset();
    }
  }

  const YamlLimits& limits_;
  std::vector<YamlError>& errors_;
  std::vector<Frame> stack_;
  std::unordered_map<YAML::anchor_t, NodePtr> anchors_;
  NodePtr root_;
  Position start_;
  std::size_t nodes_ = 0;
  std::size_t documents_started_ = 0;
};

}  // namespace

std::string_view DescribeKind(const YamlNode& node) {
  switch (node.kind) {
    case YamlNode::Kind::kNull:
      return "null";
    case YamlNode::Kind::kScalar:
      return "a string";
    case YamlNode::Kind::kSequence:
      return "a list";
    case YamlNode::Kind::kMapping:
      return "a mapping";
  }
  return "?";
}

YamlParse ParseYaml(std::string_view text, const YamlLimits& limits) {
  YamlParse result;
  if (text.size() > limits.max_bytes) {
    result.errors.push_back({{},
                             fmt::format("file is {} bytes; manifests are limited to {} bytes",
                                         text.size(), limits.max_bytes)});
    return result;
  }
  if (auto bad = FindBadCharacter(text)) {
    result.errors.push_back(std::move(*bad));
    return result;
  }
  std::istringstream in{std::string(text)};
  TreeBuilder builder(limits, result.errors);
  try {
    YAML::Parser parser(in);
    while (parser.HandleNextDocument(builder)) {
      result.documents.push_back({builder.TakeRoot(), builder.start()});
    }
  } catch (const LimitExceeded& e) {
    result.errors.push_back({e.position, e.message, result.documents.size()});
  } catch (const YAML::Exception& e) {
    result.errors.push_back({ToPosition(e.mark), "yaml: " + e.msg, result.documents.size()});
  } catch (const std::exception& e) {
    result.errors.push_back({{}, fmt::format("yaml: {}", e.what()), result.documents.size()});
  }
  return result;
}

}  // namespace gantry::manifest
