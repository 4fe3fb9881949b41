# Find every library with pkg-config. A missing one stops configure with the
# Debian package that provides it (deploy/install-deps.sh installs them all).
find_package(PkgConfig)
if(NOT PKG_CONFIG_FOUND)
  message(FATAL_ERROR "pkg-config not found: install the Debian package 'pkg-config' "
                      "(or run deploy/install-deps.sh as root)")
endif()

option(BERTH_STATIC_DEPS
       "Link a library statically where Debian ships its archive: one shared object less to \
map and relocate at every berthctl run / berth-monitor start, and fewer private pages"
       ON)

# berth_require_pkg(<name> <pkg-config module> <debian package> [STATIC_OK])
# defines the target Berth::<name>. STATIC_OK: with BERTH_STATIC_DEPS, link
# the library's own archive when it exists (its dependencies stay shared).
function(berth_require_pkg name module debpkg)
  cmake_parse_arguments(P "STATIC_OK" "" "" ${ARGN})
  pkg_check_modules(${name} QUIET IMPORTED_TARGET GLOBAL ${module})
  if(NOT ${name}_FOUND)
    message(FATAL_ERROR "${module} not found: install the Debian package '${debpkg}' "
                        "(or run deploy/install-deps.sh as root)")
  endif()
  add_library(Berth::${name} INTERFACE IMPORTED GLOBAL)
  set(_how shared)
  if(BERTH_STATIC_DEPS AND P_STATIC_OK)
    set(_archives)
    foreach(_lib ${${name}_LIBRARIES})
      find_library(_a_${name}_${_lib} NAMES lib${_lib}.a HINTS ${${name}_LIBRARY_DIRS})
      if(NOT _a_${name}_${_lib})
        set(_archives)
        break()
      endif()
      list(APPEND _archives ${_a_${name}_${_lib}})
    endforeach()
    if(_archives)
      # What the archive itself needs (-lm, -lpthread ...) stays shared.
      set(_deps ${${name}_STATIC_LIBRARIES})
      list(REMOVE_ITEM _deps ${${name}_LIBRARIES})
      target_include_directories(Berth::${name} INTERFACE ${${name}_INCLUDE_DIRS})
      target_link_libraries(Berth::${name} INTERFACE ${_archives} ${_deps})
      set(_how static)
    endif()
  endif()
  if(_how STREQUAL shared)
    target_link_libraries(Berth::${name} INTERFACE PkgConfig::${name})
  endif()
  # for programs linked wholly static (berth-monitor): every library static
  set(BERTH_${name}_LINKAGE ${_how} PARENT_SCOPE)
  message(STATUS "Found ${module} ${${name}_VERSION} (${_how})")
endfunction()

berth_require_pkg(PROTOBUF_C libprotobuf-c libprotobuf-c-dev STATIC_OK)
berth_require_pkg(NANOMSG nanomsg libnanomsg-dev)
berth_require_pkg(SECCOMP libseccomp libseccomp-dev STATIC_OK)
berth_require_pkg(LIBCAP libcap libcap-dev STATIC_OK)
berth_require_pkg(YAML yaml-0.1 libyaml-dev STATIC_OK)
berth_require_pkg(SODIUM libsodium libsodium-dev STATIC_OK)
berth_require_pkg(SQLITE sqlite3 libsqlite3-dev STATIC_OK)
# lib/image: the registry client (libcurl, OpenSSL flavour: per-registry CA
# files beside the system's), layer archives (libarchive), and jansson, the
# one JSON library (image manifests and configs, berthctl -o json).
berth_require_pkg(CURL libcurl libcurl4-openssl-dev)
berth_require_pkg(ARCHIVE libarchive libarchive-dev)
berth_require_pkg(JANSSON jansson libjansson-dev STATIC_OK)
# lib/net: pod networks (rtnetlink through libmnl, nftables rules through
# libnftables).
berth_require_pkg(MNL libmnl libmnl-dev STATIC_OK)
berth_require_pkg(NFTABLES libnftables libnftables-dev)
# lib/metrics: the daemons' /metrics endpoint (an HTTP server on their loop).
berth_require_pkg(MHD libmicrohttpd libmicrohttpd-dev)
# berthd and the controller under systemd: sd_notify (Type=notify, the
# watchdog).
berth_require_pkg(SYSTEMD libsystemd libsystemd-dev)
if(BERTH_TESTS)
  berth_require_pkg(CHECK check "check libsubunit-dev")
endif()

find_program(PROTOC_C protoc-c)
if(NOT PROTOC_C)
  message(FATAL_ERROR "protoc-c not found: install the Debian package 'protobuf-c-compiler' "
                      "(or run deploy/install-deps.sh as root)")
endif()
