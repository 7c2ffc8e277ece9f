#!/bin/sh
# Build phivault's own packed cracklib dictionary (OUT.pwd/.pwi/.hwm) from the
# word lists given, so the password blocklist does not depend on what the
# machine's /var/cache/cracklib happens to hold. Called by CMake (the
# cracklib_dict target of `make build`); the word lists come from Debian
# packages that `make deps` installs (Makefile DEB_PACKAGES).
# usage: cracklib-dict.sh CRACKLIB-FORMAT CRACKLIB-PACKER OUT WORDLIST...
set -eu
format=$1 packer=$2 out=$3
shift 3
for w in "$@"; do
	if [ ! -r "$w" ]; then
		echo "cracklib-dict: word list $w is missing (run make deps)" >&2
		exit 1
	fi
done
mkdir -p "$(dirname "$out")"
tmp="$out.tmp$$"
trap 'rm -f "$tmp.pwd" "$tmp.pwi" "$tmp.hwm"' EXIT
"$format" "$@" | "$packer" "$tmp" >/dev/null
for ext in pwd pwi hwm; do
	mv -f "$tmp.$ext" "$out.$ext"
done
