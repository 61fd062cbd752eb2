# Third-party libraries, all from Debian packages (scripts/bootstrap.sh installs them).
include(GNUInstallDirs)
find_package(Threads REQUIRED)

find_path(ZSTD_INCLUDE_DIR zstd.h)
find_library(ZSTD_LIBRARY NAMES zstd)
find_path(XXHASH_INCLUDE_DIR xxhash.h)
find_library(XXHASH_LIBRARY NAMES xxhash)
foreach(var ZSTD_INCLUDE_DIR ZSTD_LIBRARY XXHASH_INCLUDE_DIR XXHASH_LIBRARY)
  if(NOT ${var})
    message(FATAL_ERROR "${var} not found: run scripts/bootstrap.sh (libzstd-dev, libxxhash-dev)")
  endif()
endforeach()

# Imported under the names an installed fsdb's consumers see too (fsdbConfig.cmake
# defines the same targets), so the export set refers to them by name.
if(NOT TARGET fsdb_dep::zstd)
  add_library(fsdb_dep::zstd UNKNOWN IMPORTED)
  set_target_properties(fsdb_dep::zstd PROPERTIES IMPORTED_LOCATION "${ZSTD_LIBRARY}"
                        INTERFACE_INCLUDE_DIRECTORIES "${ZSTD_INCLUDE_DIR}")
  add_library(fsdb_dep::xxhash UNKNOWN IMPORTED)
  set_target_properties(fsdb_dep::xxhash PROPERTIES IMPORTED_LOCATION "${XXHASH_LIBRARY}"
                        INTERFACE_INCLUDE_DIRECTORIES "${XXHASH_INCLUDE_DIR}")
endif()

if(FSDB_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(FSDB_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()
