// Small state files replaced atomically: a reader (or a restart after kill -9 or a power loss)
// sees either the old content or the new one, never a torn mix.
#pragma once

#include <string>
#include <string_view>

namespace outpost {

// Writes `text` to PATH.tmp, fsyncs it, renames it over `path` and fsyncs the directory.
// False and `error` ("what: strerror") when a step fails; the old file then stays as it was.
bool ReplaceFileAtomically(const std::string& path, std::string_view text, std::string* error);

}  // namespace outpost
