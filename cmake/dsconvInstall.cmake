# Packaging of the C++ library: shared-library exports, `cmake --install` rules, the CMake
# package (dsconv::dsconv, dsconvConfig.cmake, dsconvConfigVersion.cmake) and dsconv.pc.
# Everything here is in the components "dev" and "runtime"; the wheel installs only the
# component "python" (pyproject.toml), so it carries none of it.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

get_target_property(DSCONV_LIBRARY_TYPE dsconv TYPE)
if(OpenMP_CXX_FOUND)
  set(DSCONV_WITH_OPENMP ON)
else()
  set(DSCONV_WITH_OPENMP OFF)
endif()

# 0.x releases may break the ABI at every minor version, later ones at major versions.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(DSCONV_SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
  set(DSCONV_COMPATIBILITY SameMinorVersion)
else()
  set(DSCONV_SOVERSION ${PROJECT_VERSION_MAJOR})
  set(DSCONV_COMPATIBILITY SameMajorVersion)
endif()
# No dsconv_EXPORTS define (nothing reads it): the static and shared builds then compile the
# same commands, so a compiler cache shares their objects (scripts/test-install.sh).
set_target_properties(dsconv PROPERTIES VERSION ${PROJECT_VERSION} SOVERSION ${DSCONV_SOVERSION} DEFINE_SYMBOL "")

# -fvisibility=hidden leaves std:: template instantiations default-visible; the version
# script keeps the shared library's exports to the public API.
if(DSCONV_LIBRARY_TYPE STREQUAL "SHARED_LIBRARY" AND NOT APPLE AND NOT WIN32)
  set(DSCONV_VERSION_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/dsconv.map)
  target_link_options(dsconv PRIVATE "LINKER:--version-script=${DSCONV_VERSION_SCRIPT}")
  set_property(TARGET dsconv APPEND PROPERTY LINK_DEPENDS ${DSCONV_VERSION_SCRIPT})
endif()

set(DSCONV_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/dsconv)
install(TARGETS dsconv EXPORT dsconvTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT dev
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/cpp/include/dsconv DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)
install(EXPORT dsconvTargets NAMESPACE dsconv:: DESTINATION ${DSCONV_CMAKE_DIR} COMPONENT dev)

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/dsconvConfig.cmake.in
  ${PROJECT_BINARY_DIR}/dsconvConfig.cmake INSTALL_DESTINATION ${DSCONV_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/dsconvConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY ${DSCONV_COMPATIBILITY})
install(FILES ${PROJECT_BINARY_DIR}/dsconvConfig.cmake ${PROJECT_BINARY_DIR}/dsconvConfigVersion.cmake
  DESTINATION ${DSCONV_CMAKE_DIR} COMPONENT dev)

# dsconv.pc locates the prefix from its own folder, so `cmake --install --prefix` anywhere
# gives a working file.
set(DSCONV_PC_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
function(dsconv_pc_path var dir)
  if(IS_ABSOLUTE "${dir}")
    set(${var} "${dir}" PARENT_SCOPE)
  else()
    set(${var} "\${prefix}/${dir}" PARENT_SCOPE)
  endif()
endfunction()
if(IS_ABSOLUTE "${DSCONV_PC_DIR}")
  set(DSCONV_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH DSCONV_PC_PREFIX_FROM_PCDIR /prefix/${DSCONV_PC_DIR} /prefix)
  set(DSCONV_PC_PREFIX "\${pcfiledir}/${DSCONV_PC_PREFIX_FROM_PCDIR}")
endif()
dsconv_pc_path(DSCONV_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
dsconv_pc_path(DSCONV_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")

# What a static link of libdsconv.a from a C program needs besides it: the C++ runtime (the
# C++ compiler's implicit libraries that a C link lacks) and the OpenMP runtime.
set(DSCONV_PC_LIBS_PRIVATE "")
foreach(lib ${CMAKE_CXX_IMPLICIT_LINK_LIBRARIES})
  if(NOT lib IN_LIST CMAKE_C_IMPLICIT_LINK_LIBRARIES)
    string(APPEND DSCONV_PC_LIBS_PRIVATE " -l${lib}")
  endif()
endforeach()
if(DSCONV_WITH_OPENMP)
  foreach(name ${OpenMP_CXX_LIB_NAMES})
    get_filename_component(dir "${OpenMP_${name}_LIBRARY}" DIRECTORY)
    if(dir AND NOT dir IN_LIST CMAKE_CXX_IMPLICIT_LINK_DIRECTORIES)
      string(APPEND DSCONV_PC_LIBS_PRIVATE " -L${dir}")
    endif()
    string(APPEND DSCONV_PC_LIBS_PRIVATE " -l${name}")
  endforeach()
endif()
string(STRIP "${DSCONV_PC_LIBS_PRIVATE}" DSCONV_PC_LIBS_PRIVATE)
configure_file(${CMAKE_CURRENT_LIST_DIR}/dsconv.pc.in ${PROJECT_BINARY_DIR}/dsconv.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/dsconv.pc DESTINATION ${DSCONV_PC_DIR} COMPONENT dev)
