"""Writes a synthetic data set file (PCQ kind "dataset", docs/FORMAT.md):
random images and labels, the same bytes for the same arguments. Both
sides of a benchmark read the same file.
Usage: make_synthetic.py OUT C H W TRAIN_N TEST_N CLASSES"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'fixtures'))
import pcqfile  # noqa: E402


def main():
    out, c, h, w, n, m, classes = sys.argv[1], *map(int, sys.argv[2:])
    rng = np.random.default_rng(1)
    tensors = []
    for split, count in (('train', n), ('test', m)):
        tensors.append((f'{split}.images', rng.integers(0, 256, (count, c, h, w), dtype=np.uint8)))
        tensors.append((f'{split}.labels', rng.integers(0, classes, count, dtype=np.int32)))
    pcqfile.write(out, 'dataset', tensors, attrs={
        'source': 'synthetic', 'classes': classes,
        'class_names': [str(k) for k in range(classes)]})


if __name__ == '__main__':
    main()
