#!/bin/sh
# Install the Debian packages given as arguments that are not installed yet.
# As root this runs apt-get; otherwise it names what is missing and fails.
set -eu
missing=""
for p in "$@"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "phivault: missing Debian packages:$missing" >&2
	echo "phivault: run as root, or: sudo apt-get install$missing" >&2
	exit 3
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
