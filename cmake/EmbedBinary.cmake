# cmake -DINPUT=file -DOUTPUT=file.c -DNAME=symbol -P EmbedBinary.cmake
# Writes the bytes of INPUT as `const unsigned char NAME[]` and `NAME_len`.
file(READ ${INPUT} hex HEX)
string(LENGTH "${hex}" hexlen)
math(EXPR len "${hexlen} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "((0x..,){16})" "\\1\n    " bytes "${bytes}")
file(WRITE ${OUTPUT}
     "/* Generated from ${INPUT} at build time; do not edit. */\n"
     "#include <stddef.h>\n"
     "const unsigned char ${NAME}[] = {\n    ${bytes}\n};\n"
     "const size_t ${NAME}_len = ${len};\n")
