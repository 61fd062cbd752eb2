#!/usr/bin/env bash
# Installs fsdb from an existing build tree into a temporary prefix, then builds
# and runs two tiny consumer projects: one that uses find_package(fsdb) against
# that prefix, one that pulls fsdb in with add_subdirectory(). Also checks fsdb.pc.
#   install_test.sh SOURCE_DIR BUILD_DIR CXX_COMPILER
set -euo pipefail
src=$1 build=$2 cxx=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/fsdb-install-test-XXXXXX")
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" >/dev/null

mkdir -p "$work/consumer"
cat > "$work/consumer/main.cc" <<'CC'
#include <fsdb/status.h>
#include <fsdb/env.h>
#include <cstdio>
#include <string>
int main(int argc, char** argv) {
  auto fs = fsdb::posix_file_system();
  const std::string path = std::string(argc > 1 ? argv[1] : ".") + "/consumer.txt";
  fsdb::Status s = fsdb::write_string_to_file(*fs, "hello from a consumer", path, true);
  std::string back;
  if (s.ok()) s = fsdb::read_file_to_string(*fs, path, &back);
  if (!s.ok() || back != "hello from a consumer") {
    std::printf("consumer failed: %s\n", s.to_string().c_str());
    return 1;
  }
  std::printf("consumer ok\n");
  return 0;
}
CC
cat > "$work/consumer/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.25)
project(fsdb_consumer LANGUAGES CXX)
set(CMAKE_CXX_STANDARD 20)
if(FSDB_SOURCE_DIR)
  add_subdirectory(${FSDB_SOURCE_DIR} fsdb)
else()
  find_package(fsdb 0.1 REQUIRED)
endif()
add_executable(consumer main.cc)
target_link_libraries(consumer PRIVATE fsdb::fsdb)
if(TARGET fsdb::memtable)
  add_executable(memtable_consumer memtable_main.cc)
  target_link_libraries(memtable_consumer PRIVATE fsdb::memtable)
endif()
CM
cat > "$work/consumer/memtable_main.cc" <<'CC'
#include <fsdb/skiplist.h>
#include <cstdio>
int main() {
  fsdb::ConcurrentSkipList list;
  if (!list.insert("user:1", "alice") || list.get_live("user:1") != "alice") return 1;
  std::printf("memtable consumer ok\n");
  return 0;
}
CC

echo "== find_package(fsdb) against the installed tree"
cmake -S "$work/consumer" -B "$work/b1" -DCMAKE_CXX_COMPILER="$cxx" \
      -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/b1" -j2 >/dev/null
"$work/b1/consumer" "$work"
[ ! -x "$work/b1/memtable_consumer" ] || "$work/b1/memtable_consumer"

echo "== pkg-config"
PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig:$work/prefix/lib64/pkgconfig" \
  "$cxx" "$work/consumer/main.cc" -o "$work/pc_consumer" \
  $(PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig:$work/prefix/lib64/pkgconfig" pkg-config --cflags --libs fsdb)
"$work/pc_consumer" "$work"

echo "== add_subdirectory(fsdb)"
cmake -S "$work/consumer" -B "$work/b2" -DCMAKE_CXX_COMPILER="$cxx" \
      -DFSDB_SOURCE_DIR="$src" >/dev/null
cmake --build "$work/b2" -j2 --target consumer >/dev/null
"$work/b2/consumer" "$work"
echo "install test passed"
