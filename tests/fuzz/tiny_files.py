"""Writes the tiny files the fuzz corpus grows from (tests/fuzz/make_seeds.sh):
a data set of 3x6x6 images in 3 classes and an FP32 model over it that
uses every op of docs/FORMAT.md but fakequant (pcq-fuse adds those) and
avgpool2d (the integer engine has no windowed average pooling).
Small on purpose: the fuzzer mutates every byte of its inputs.
Usage: /usr/bin/python3 tests/fuzz/tiny_files.py DATASET MODEL"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'fixtures'))
import pcqfile  # noqa: E402

C, H, W, CLASSES = 3, 6, 6, 3


def dataset(path):
    rng = np.random.default_rng(1)
    tensors = []
    for split, n in (('train', 12), ('test', 6)):
        labels = np.arange(n, dtype=np.int32) % CLASSES
        # Each class brighter in its own channel, so a step can learn.
        images = rng.integers(0, 80, (n, C, H, W), dtype=np.uint8)
        images[np.arange(n), labels] += 150
        tensors += [(f'{split}.images', images), (f'{split}.labels', labels)]
    pcqfile.write(path, 'dataset', tensors,
                  attrs={'source': 'tiny_files.py', 'classes': CLASSES,
                         'class_names': ['red', 'green', 'blue']})


def layer(name, op, inputs, **params):
    return {'name': name, 'op': op, 'inputs': inputs, 'params': params}


def model(path):
    rng = np.random.default_rng(2)

    def w(*shape):
        return (rng.standard_normal(shape) * 0.3).astype(np.float32)

    graph = [
        layer('conv1', 'conv2d', ['input'], out_channels=4, kernel=3, stride=1, pad=1, bias=0),
        layer('bn1', 'batchnorm2d', ['conv1'], eps=1e-5, momentum=0.1),
        layer('relu1', 'relu', ['bn1']),
        layer('conv2', 'conv2d', ['relu1'], out_channels=4, kernel=3, stride=1, pad=1, bias=1),
        layer('add1', 'add', ['relu1', 'conv2']),
        layer('pool1', 'maxpool2d', ['add1'], kernel=2, stride=2, pad=0),
        layer('gap', 'global_avgpool2d', ['pool1']),
        layer('flat', 'flatten', ['gap']),
        layer('drop', 'dropout', ['flat'], p=0.25),
        layer('fc', 'linear', ['drop'], out_features=CLASSES, bias=1),
    ]
    tensors = [
        ('conv1.weight', w(4, C, 3, 3)),
        ('bn1.weight', 1 + w(4)), ('bn1.bias', w(4)),
        ('bn1.running_mean', w(4)), ('bn1.running_var', 1 + np.abs(w(4))),
        ('conv2.weight', w(4, 4, 3, 3)), ('conv2.bias', w(4)),
        ('fc.weight', w(CLASSES, 4)), ('fc.bias', w(CLASSES)),
    ]
    pcqfile.write(path, 'model', tensors, graph=graph,
                  attrs={'input_shape': [C, H, W], 'classes': CLASSES, 'arch': 'tiny',
                         'norm_mean': [0.5] * C, 'norm_std': [0.25] * C})


if __name__ == '__main__':
    dataset(sys.argv[1])
    model(sys.argv[2])
