#!/bin/sh
# Turn Lua source files into one C string constant: embed.sh NAME FILE...
# Each file becomes a `do ... end` block of one chunk, so its locals stay
# its own; files run in the order given (the Makefile sorts them).
name=$1; shift
printf 'const char %s[] =\n' "$name"
for f in "$@"; do
  printf '  "do -- %s\\n"\n' "$f"
  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/  "/' -e 's/$/\\n"/' "$f"
  printf '  "end\\n"\n'
done
printf '  ;\n'
