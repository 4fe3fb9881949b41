# The Debian version of berth's packages, made when they are made (cpack
# includes this file: CPACK_PROJECT_CONFIG_FILE in Packaging.cmake) from the
# version the binaries were built with, so a package never says another
# version than its programs' --version:
#
#   binaries say (cmake/Version.cmake)  the packages' version
#   1.2.0                               1.2.0             a release tag
#   1.2.0-rc1                           1.2.0~rc1         sorts before 1.2.0
#   1.2.0-3-gabc1234                    1.2.0+3.gabc1234  3 commits after it
#   1.2.0-dirty                         1.2.0+0.dirty     uncommitted changes
#   1.2.0-3-gabc1234-dirty              1.2.0+3.gabc1234.dirty
#   0.1.0+gabc1234                      0.1.0~git300.gabc1234
#                                       no release tag yet: the project's version,
#                                       the commit's number (git rev-list --count),
#                                       and sorting before the release of 0.1.0
#   BERTH_PACKAGE_VERSION               as it is
#
# Standalone, for tests: cmake -DDESCRIBED=STRING [-DCOUNT=N] -P DebianVersion.cmake
# prints the Debian version of STRING (COUNT stands for git rev-list --count).

function(berth_debian_version described source_dir ret)
  set(v "${described}")
  set(dirty FALSE)
  set(suffix "")
  if(v MATCHES "^(.+)-dirty$")
    set(v "${CMAKE_MATCH_1}")
    set(dirty TRUE)
  endif()
  if(v MATCHES "^(.+)-([0-9]+)-g([0-9a-f]+)$")
    set(v "${CMAKE_MATCH_1}")
    set(suffix "+${CMAKE_MATCH_2}.g${CMAKE_MATCH_3}")
  elseif(v MATCHES "^(.+)\\+g([0-9a-f]+)$")
    set(v "${CMAKE_MATCH_1}")
    set(hash "${CMAKE_MATCH_2}")
    if(DEFINED COUNT)
      set(count "${COUNT}")
    else()
      find_package(Git QUIET)
      if(GIT_FOUND)
        execute_process(COMMAND "${GIT_EXECUTABLE}" --no-optional-locks -C "${source_dir}" rev-list
                                --count "${hash}"
                        OUTPUT_VARIABLE count RESULT_VARIABLE rc ERROR_QUIET
                        OUTPUT_STRIP_TRAILING_WHITESPACE)
      endif()
      if(NOT GIT_FOUND OR NOT rc EQUAL 0 OR NOT count MATCHES "^[0-9]+$")
        message(FATAL_ERROR "DebianVersion: cannot count the commits up to ${hash} in "
                            "${source_dir}; set -DBERTH_PACKAGE_VERSION")
      endif()
    endif()
    set(suffix "~git${count}.g${hash}")
  endif()
  if(dirty)
    if(suffix)
      string(APPEND suffix ".dirty")
    else()
      set(suffix "+0.dirty")
    endif()
  endif()
  # A tag's own hyphen is a pre-release (1.2.0-rc1).
  string(REPLACE "-" "~" v "${v}")
  set(v "${v}${suffix}")
  if(NOT v MATCHES "^[0-9][A-Za-z0-9.+~]*$")
    message(FATAL_ERROR "DebianVersion: berth's version '${described}' makes '${v}', which is "
                        "not a Debian version; tag releases vMAJOR.MINOR.PATCH, or set "
                        "-DBERTH_PACKAGE_VERSION")
  endif()
  set(${ret} "${v}" PARENT_SCOPE)
endfunction()

if(DEFINED DESCRIBED)
  berth_debian_version("${DESCRIBED}" "${CMAKE_CURRENT_LIST_DIR}/.." v)
  execute_process(COMMAND ${CMAKE_COMMAND} -E echo "${v}")
  return()
endif()

# In cpack: the version the build compiled in.
if(NOT EXISTS "${CPACK_BERTH_VERSION_FILE}")
  message(FATAL_ERROR "DebianVersion: ${CPACK_BERTH_VERSION_FILE} is missing: build before "
                      "packaging (cmake --build BUILD --target package does both)")
endif()
file(STRINGS "${CPACK_BERTH_VERSION_FILE}" _line REGEX "return \"")
if(NOT _line MATCHES "return \"([^\"]+)\"")
  message(FATAL_ERROR "DebianVersion: no version in ${CPACK_BERTH_VERSION_FILE}")
endif()
set(_built "${CMAKE_MATCH_1}")
if(CPACK_BERTH_VERSION_OVERRIDE)
  set(_deb "${_built}")
else()
  berth_debian_version("${_built}" "${CPACK_BERTH_SOURCE_DIR}" _deb)
endif()
set(CPACK_PACKAGE_VERSION "${_deb}")
set(CPACK_DEBIAN_PACKAGE_VERSION "${_deb}")
message(STATUS "berth ${_built}: packages of version ${_deb}")
