# Find every library with pkg-config. A missing one stops configure with the
# Debian package that provides it (deploy/install-deps.sh installs them all).
find_package(PkgConfig)
if(NOT PKG_CONFIG_FOUND)
  message(FATAL_ERROR "pkg-config not found: install the Debian package 'pkg-config' "
                      "(or run deploy/install-deps.sh as root)")
endif()

# berth_require_pkg(<target-name> <pkg-config module> <debian package>)
# defines the imported target PkgConfig::<target-name>.
function(berth_require_pkg name module debpkg)
  pkg_check_modules(${name} QUIET IMPORTED_TARGET GLOBAL ${module})
  if(NOT ${name}_FOUND)
    message(FATAL_ERROR "${module} not found: install the Debian package '${debpkg}' "
                        "(or run deploy/install-deps.sh as root)")
  endif()
  message(STATUS "Found ${module} ${${name}_VERSION}")
endfunction()

berth_require_pkg(PROTOBUF_C libprotobuf-c libprotobuf-c-dev)
berth_require_pkg(NANOMSG nanomsg libnanomsg-dev)
berth_require_pkg(SECCOMP libseccomp libseccomp-dev)
berth_require_pkg(LIBCAP libcap libcap-dev)
berth_require_pkg(YAML yaml-0.1 libyaml-dev)
berth_require_pkg(SODIUM libsodium libsodium-dev)
berth_require_pkg(SQLITE sqlite3 libsqlite3-dev)
if(BERTH_TESTS)
  berth_require_pkg(CHECK check "check libsubunit-dev")
endif()

find_program(PROTOC_C protoc-c)
if(NOT PROTOC_C)
  message(FATAL_ERROR "protoc-c not found: install the Debian package 'protobuf-c-compiler' "
                      "(or run deploy/install-deps.sh as root)")
endif()
