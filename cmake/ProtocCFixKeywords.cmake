# cmake -DHEADER=<file.pb-c.h> -P ProtocCFixKeywords.cmake
#
# protoc-c 1.4 names a service's handler members after the method in lower
# case, so a method called Register (or Return, Default ...) becomes a struct
# member named after a C keyword and the header does not compile. Rename
# such members to <keyword>_ (as protoc-c does for message fields); the wire
# name of the method is unchanged. Handlers are then declared as
# `.register_ = my_register` or with the INIT macro's prefix: prefix_register_.
set(_keywords auto break case char const continue default do double else enum extern
    float for goto if inline int long register restrict return short signed sizeof static
    struct switch typedef union unsigned void volatile while)
file(READ ${HEADER} _text)
foreach(_kw ${_keywords})
  string(REPLACE "(*${_kw})(" "(*${_kw}_)(" _text "${_text}")
  string(REPLACE "function_prefix__ ## ${_kw}," "function_prefix__ ## ${_kw}_," _text "${_text}")
  string(REPLACE "function_prefix__ ## ${_kw} " "function_prefix__ ## ${_kw}_ " _text "${_text}")
  string(REPLACE "function_prefix__ ## ${_kw}\\" "function_prefix__ ## ${_kw}_\\" _text "${_text}")
endforeach()
file(WRITE ${HEADER} "${_text}")
