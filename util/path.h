// Paths as strings: the engine names its files by joining a directory and a
// name, and the places that must sync a directory need the one holding a path.
#pragma once

#include <string>
#include <string_view>

namespace fsdb {

// The directory whose entry names `path` ("." for a bare name, "/" at the
// root), trailing slashes ignored on both: "a/b/" and "a//b" give "a".
std::string parent_directory(std::string_view path);

}  // namespace fsdb
