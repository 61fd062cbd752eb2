# Warnings, sanitizers and the helper every fsdb target goes through.

add_library(fsdb_compile_options INTERFACE)
target_compile_options(fsdb_compile_options INTERFACE
  $<BUILD_INTERFACE:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor>)
# GCC 12's -Wrestrict misfires on std::string concatenation at -O3 (GCC bug
# 105651: "literal" + std::to_string(n) is reported as an overlapping memcpy).
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_GREATER_EQUAL 12
   AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(fsdb_compile_options INTERFACE $<BUILD_INTERFACE:-Wno-restrict>)
endif()
if(FSDB_WERROR)
  target_compile_options(fsdb_compile_options INTERFACE $<BUILD_INTERFACE:-Werror>)
endif()

if(FSDB_SANITIZE STREQUAL "address")
  set(fsdb_sanitize_flags -fsanitize=address,undefined -fno-sanitize-recover=all
      -fno-omit-frame-pointer)
elseif(FSDB_SANITIZE STREQUAL "thread")
  set(fsdb_sanitize_flags -fsanitize=thread -fno-omit-frame-pointer)
elseif(NOT FSDB_SANITIZE STREQUAL "")
  message(FATAL_ERROR "FSDB_SANITIZE must be empty, 'address' or 'thread', not '${FSDB_SANITIZE}'")
endif()
if(FSDB_BUILD_FUZZERS)
  # The libraries are instrumented too: coverage guides the fuzzer into them,
  # and ASan/UBSan catch an over-read wherever it happens.
  set(fsdb_sanitize_flags -fsanitize=address,undefined -fno-sanitize-recover=all
      -fno-omit-frame-pointer)
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
if(fsdb_sanitize_flags)
  add_compile_options(${fsdb_sanitize_flags})
  add_link_options(${fsdb_sanitize_flags})
endif()

# fsdb_library(NAME <target> ALIAS <alias> SOURCES ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
# A static library of one component, installable and exported as fsdb::<alias>.
function(fsdb_library name)
  cmake_parse_arguments(ARG "" "ALIAS" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  add_library(fsdb::${ARG_ALIAS} ALIAS ${name})
  target_include_directories(${name}
    PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
           $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
    PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_PUBLIC_DEPS}
                        PRIVATE $<BUILD_INTERFACE:fsdb_compile_options> ${ARG_PRIVATE_DEPS})
  set_target_properties(${name} PROPERTIES EXPORT_NAME ${ARG_ALIAS} OUTPUT_NAME ${name})
  set_property(GLOBAL APPEND PROPERTY FSDB_INSTALL_TARGETS ${name})
endfunction()

# fsdb_executable(<target> SOURCES ... DEPS ...): a program of the project (tool, test, bench).
function(fsdb_executable name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PRIVATE fsdb_compile_options ${ARG_DEPS})
endfunction()
