# cmake -DIN=FILE -DOUT=FILE.c -DNAME=symbol -P scripts/embed.cmake
# Writes FILE.c defining `const char NAME[]` (the bytes of IN, NUL-terminated)
# and `const size_t NAME_len`: data embedded into the binary at build time,
# so nothing reads the source tree at run time.
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" hexlen)
math(EXPR len "${hexlen} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){16})" "\\1\n" bytes "${bytes}")
file(WRITE ${OUT}.tmp "/* generated from ${IN} by scripts/embed.cmake: do not edit */\n"
  "#include <stddef.h>\n"
  "extern const char ${NAME}[];\nextern const size_t ${NAME}_len;\n"
  "const char ${NAME}[] = {\n${bytes}\n0x00 };\n"
  "const size_t ${NAME}_len = ${len};\n")
file(RENAME ${OUT}.tmp ${OUT})
