#!/bin/sh
# Unpacks the CIFAR-10 JPEG copy (../shared/data/cifar10-jpeg.tar.gz, see
# ../shared/data/README.md) once into a cache folder and prints the folder
# to give as --data folder:DIR. Exit 3 when the archive is not here.
#   PCQ_SHARED      where shared/ is (default: ../shared from the repo root)
#   PCQ_DATA_CACHE  where to unpack (default: ~/.cache/pcq)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
archive=${PCQ_SHARED:-$root/../shared}/data/cifar10-jpeg.tar.gz
cache=${PCQ_DATA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pcq}
dir=$cache/cifar10-jpeg

if [ ! -f "$archive" ]; then
	echo "cifar10-jpeg: '$archive': not found" >&2
	exit 3
fi
if [ ! -f "$dir/.complete" ]; then
	mkdir -p "$cache"
	tmp=$(mktemp -d "$cache/.unpack.XXXXXX")
	tar -xzf "$archive" -C "$tmp"
	[ -d "$tmp/cifar10-jpeg/train" ] || { echo "cifar10-jpeg: '$archive': no cifar10-jpeg/train inside" >&2; exit 1; }
	touch "$tmp/cifar10-jpeg/.complete"
	rm -rf "$dir"
	mv "$tmp/cifar10-jpeg" "$dir"
	rmdir "$tmp"
fi
echo "$dir"
