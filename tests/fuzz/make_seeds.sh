#!/bin/sh
# Makes the fuzz corpora's seeds, the files ok-* (committed; rerun after a
# format change):
# - tests/fuzz/corpus/fuzz_pcqfile: one tiny valid file of every kind, from
#   tests/fuzz/tiny_files.py and the tools in bin/ — a data set, a model,
#   fused models (QAT, PCQ with two clusters, QAT with a 16-bit residual
#   branch) before and after fine-tuning, quantized models, a k-means
#   model, predictions; and a
#   model with batch norm momentum 0;
# - tests/fuzz/corpus/fuzz_dataset: tiny JPEG and PNG images, IDX files
#   (raw and gzip), CIFAR-10 records and image folders, from
#   tests/fuzz/dataset_seeds.c (libjpeg, libpng and zlib write them).
# Usage: sh tests/fuzz/make_seeds.sh   (after make; needs /usr/bin/python3
# with numpy and msgpack)
set -eu
cd "$(dirname "$0")/../.."
PYTHON_TORCH=${PYTHON_TORCH:-/usr/bin/python3}
root=$PWD
out=$root/tests/fuzz/corpus/fuzz_pcqfile
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Relative names in a fixed time: the same bytes every run.
cd "$tmp"
export SOURCE_DATE_EPOCH=1767225600 PATH="$root/bin:$PATH"
# quiet CMD...: CMD's output only when it fails.
quiet() { "$@" >log 2>&1 || { cat log >&2; exit 1; }; }

"$PYTHON_TORCH" "$root/tests/fuzz/tiny_files.py" dataset.msgpack model.msgpack
data=dataset:dataset.msgpack
quiet pcq-kmeans fit --data "$data" --clusters 2 --norm model.msgpack --threads 1 \
	-o kmeans.msgpack
pcq-fuse model.msgpack --bit 8 -o fused-qat.msgpack
pcq-fuse model.msgpack --bit 4 --clusters 2 -o fused-pcq.msgpack
pcq-fuse model.msgpack --bit 4 --residual-bit 16 -o fused-r16.msgpack
train="--data $data --epochs 1 --batch 4 --threads 1"
quiet pcq-train fused-qat.msgpack $train -o tuned-qat.msgpack
quiet pcq-train fused-pcq.msgpack --kmeans kmeans.msgpack $train \
	-o tuned-pcq.msgpack
quiet pcq-train fused-r16.msgpack $train -o tuned-r16.msgpack
pcq-quantize tuned-qat.msgpack -o quantized-qat.msgpack
pcq-quantize tuned-r16.msgpack -o quantized-r16.msgpack
pcq-quantize tuned-pcq.msgpack -o quantized-pcq.msgpack
quiet pcq-infer quantized-pcq.msgpack --kmeans kmeans.msgpack --data "$data" \
	--threads 1 --predictions predictions.msgpack

mkdir -p "$out"
rm -f "$out"/ok-*
for f in dataset model kmeans fused-qat fused-pcq fused-r16 tuned-qat tuned-pcq tuned-r16 \
	quantized-qat quantized-pcq quantized-r16 predictions; do
	cp "$f.msgpack" "$out/ok-$f.msgpack"
done
# An edge the tools must take: batch norm momentum 0 (running statistics
# kept as they are; PyTorch allows it, and a CHECK once refused it).
perl -pe 's/\xa8momentum\xcb\x3f\xb9\x99\x99\x99\x99\x99\x9a/\xa8momentum\xcb\0\0\0\0\0\0\0\0/' \
	"$out/ok-model.msgpack" >"$out/ok-bn-momentum-0.msgpack"
cmp -s "$out/ok-model.msgpack" "$out/ok-bn-momentum-0.msgpack" && { echo "momentum edit failed" >&2; exit 1; }
ls -l "$out"/ok-*

out=$root/tests/fuzz/corpus/fuzz_dataset
mkdir -p "$out"
rm -f "$out"/ok-*
${CC:-cc} -std=c11 -Wall -Wextra -Werror -I/usr/include/libpng16 \
	-o dataset_seeds "$root/tests/fuzz/dataset_seeds.c" -ljpeg -lpng16 -lz
./dataset_seeds "$out"
ls -l "$out"/ok-*
