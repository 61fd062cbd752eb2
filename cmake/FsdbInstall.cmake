# `cmake --install` lays out headers, static libraries, a CMake package
# (find_package(fsdb) -> fsdb::fsdb, fsdb::memtable) and fsdb.pc for pkg-config.
include(CMakePackageConfigHelpers)

# fsdb::fsdb is the whole engine: every component library.
add_library(fsdb INTERFACE)
add_library(fsdb::fsdb ALIAS fsdb)
get_property(fsdb_components GLOBAL PROPERTY FSDB_INSTALL_TARGETS)
target_link_libraries(fsdb INTERFACE ${fsdb_components})

install(TARGETS ${fsdb_components} fsdb EXPORT fsdbTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/fsdb DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT fsdbTargets NAMESPACE fsdb:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/fsdb)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/fsdbConfig.cmake.in
  ${PROJECT_BINARY_DIR}/fsdbConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/fsdb)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/fsdbConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/fsdbConfig.cmake ${PROJECT_BINARY_DIR}/fsdbConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/fsdb)

# pkg-config: libraries in link order (dependents before what they use).
set(fsdb_pc_libs "")
foreach(component IN LISTS fsdb_components)
  string(PREPEND fsdb_pc_libs "-l${component} ")
endforeach()
# fsdb.pc finds the prefix from its own place, so an installed tree can be moved.
file(RELATIVE_PATH fsdb_pc_prefix_from_pcfiledir "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
configure_file(${PROJECT_SOURCE_DIR}/cmake/fsdb.pc.in ${PROJECT_BINARY_DIR}/fsdb.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/fsdb.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
