#include "support/tar.h"

#include <archive.h>
#include <archive_entry.h>

#include <cstdio>
#include <cstdlib>

namespace gantry::testing {
namespace {

la_ssize_t Append(struct archive*, void* user, const void* buffer, size_t length) {
  static_cast<std::string*>(user)->append(static_cast<const char*>(buffer), length);
  return static_cast<la_ssize_t>(length);
}

void Check(struct archive* a, int rc) {
  if (rc == ARCHIVE_OK) return;
  std::fprintf(stderr, "libarchive: %s\n", archive_error_string(a));
  std::abort();
}

}  // namespace

std::string MakeTar(const std::vector<TarEntry>& entries) {
  std::string out;
  struct archive* a = archive_write_new();
  Check(a, archive_write_set_format_pax_restricted(a));
  Check(a, archive_write_set_bytes_in_last_block(a, 1));
  Check(a, archive_write_open(a, &out, nullptr, Append, nullptr));
  for (const TarEntry& e : entries) {
    struct archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, e.path.c_str());
    archive_entry_set_size(entry, static_cast<la_int64_t>(e.content.size()));
    archive_entry_set_filetype(entry, AE_IFREG);
    archive_entry_set_perm(entry, static_cast<mode_t>(e.mode));
    archive_entry_set_mtime(entry, 0, 0);
    Check(a, archive_write_header(a, entry));
    if (!e.content.empty() &&
        archive_write_data(a, e.content.data(), e.content.size()) != static_cast<la_ssize_t>(e.content.size())) {
      Check(a, ARCHIVE_FATAL);
    }
    archive_entry_free(entry);
  }
  Check(a, archive_write_close(a));
  archive_write_free(a);
  return out;
}

}  // namespace gantry::testing
