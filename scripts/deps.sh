#!/bin/sh
# Installs the Debian packages PCQ needs, only those that are missing
# (python3: the end-to-end tests read --json output with it; python3-numpy
# and python3-msgpack: tests/reference/qref.py, the independent integer
# reference; libdnnl-dev: oneDNN, the integer GEMM of common/igemm.c; libopenmpi-dev
# and openmpi-bin: data-parallel training under mpirun, common/dist.c).
# Used by `make deps` and by every build (through build/config.mk), so a
# fresh Debian 12 machine needs nothing by hand. Runs apt-get as root, or
# through sudo when not root.
set -eu

packages="gcc make pkg-config libopenblas-dev libdnnl-dev libmsgpack-dev
libcmocka-dev zlib1g-dev libjpeg-dev libpng-dev nettle-dev libopenmpi-dev openmpi-bin
dataset-fashion-mnist
python3 python3-numpy python3-msgpack"
# `deps.sh PACKAGE...` installs those instead (e.g. gnuplot-nox for `make table`).
[ $# -gt 0 ] && packages="$*"

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "deps: no dpkg-query (not Debian?): install by hand: $packages" >&2
	exit 0
fi

missing=
for p in $packages; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
echo "deps: installing$missing" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >&2
