# berth_add_proto_library(<target> [ALIASES <header>] PROTOS <files...>)
#
# Compile .proto files (relative to the calling directory) with protoc-c into
# <build>/berth/proto/ and build them as the static library <target>. Users
# include "berth/proto/<header>" (ALIASES): every generated header, and short
# aliases of the generated names of package berth.v1 (ProtoAliases.cmake). Generated code is never committed.
# Every proto depends on all protos of the same call, so a changed import
# regenerates its importers.
set(_berth_proto_fix ${CMAKE_CURRENT_LIST_DIR}/ProtocCFixKeywords.cmake)
set(_berth_proto_aliases ${CMAKE_CURRENT_LIST_DIR}/ProtoAliases.cmake)

function(berth_add_proto_library target)
  cmake_parse_arguments(P "" "ALIASES" "PROTOS;IMPORT_DIRS" ${ARGN})
  set(_import_args)
  foreach(_dir ${P_IMPORT_DIRS})
    list(APPEND _import_args --proto_path=${_dir})
  endforeach()
  set(_out ${CMAKE_CURRENT_BINARY_DIR}/berth/proto)
  set(_all_protos)
  foreach(_proto ${P_PROTOS})
    list(APPEND _all_protos ${CMAKE_CURRENT_SOURCE_DIR}/${_proto})
  endforeach()
  set(_gen_sources)
  set(_gen_headers)
  foreach(_proto ${P_PROTOS})
    get_filename_component(_name ${_proto} NAME_WE)
    set(_c ${_out}/${_name}.pb-c.c)
    set(_h ${_out}/${_name}.pb-c.h)
    add_custom_command(
      OUTPUT ${_c} ${_h}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${_out}
      COMMAND ${PROTOC_C} --proto_path=${CMAKE_CURRENT_SOURCE_DIR} ${_import_args} --c_out=${_out}
              ${_proto}
      COMMAND ${CMAKE_COMMAND} -DHEADER=${_h} -P ${_berth_proto_fix}
      DEPENDS ${_all_protos} ${_berth_proto_fix}
      COMMENT "protoc-c ${_proto}"
      VERBATIM)
    list(APPEND _gen_sources ${_c})
    list(APPEND _gen_headers ${_h})
  endforeach()
  # One header of short names for the whole package (ProtoAliases.cmake).
  set(_aliases)
  if(P_ALIASES)
    set(_aliases ${_out}/${P_ALIASES})
    add_custom_command(
      OUTPUT ${_aliases}
      COMMAND ${CMAKE_COMMAND} -DOUTPUT=${_aliases} "-DHEADERS=${_gen_headers}" -P
              ${_berth_proto_aliases}
      DEPENDS ${_gen_headers} ${_berth_proto_aliases}
      COMMENT "protobuf aliases (berth/proto/${P_ALIASES})"
      VERBATIM)
  endif()
  add_library(${target} STATIC ${_gen_sources} ${_gen_headers} ${_aliases})
  # Generated code is not ours to warn about.
  target_compile_options(${target} PRIVATE -w)
  # "berth/proto/x.pb-c.h" for us; "x.pb-c.h" for generated files importing
  # each other.
  target_include_directories(${target} PUBLIC ${CMAKE_CURRENT_BINARY_DIR} ${_out})
  target_link_libraries(${target} PUBLIC Berth::PROTOBUF_C)
  set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON)
endfunction()
