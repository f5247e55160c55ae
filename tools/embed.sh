#!/bin/sh
# Turn Lua source files into one C string constant: embed.sh NAME FILE...
name=$1; shift
printf 'const char %s[] =\n' "$name"
for f in "$@"; do
  printf '  "-- %s\\n"\n' "$f"
  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/  "/' -e 's/$/\\n"/' "$f"
done
printf '  ;\n'
