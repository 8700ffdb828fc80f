"""PyTorch's side of bench/train_throughput.sh: trains ResNet20 (or the
deeper ResNet32/44/56) or AlexNetSmall on the batches of a synthetic data set file in the order
stored, with the same recipe as pcq-train (SGD momentum 0.9, weight decay
1e-4, cross-entropy, train mode), and prints one JSON line with
images/s over the timed batches and the peak RSS.
Usage: torch_train.py ARCH DATASET BATCH THREADS WARMUP_BATCHES"""
import json
import os
import resource
import sys
import time

import msgpack
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'fixtures'))
from torch_models import AlexNetSmall, ResNet20  # noqa: E402


def load(path):
    root = msgpack.unpackb(open(path, 'rb').read(), raw=False)
    t = {x['name']: x for x in root['tensors']}
    img = t['train.images']
    x = np.frombuffer(img['data'], np.uint8).reshape(img['shape']).astype(np.float32) / 255
    y = np.frombuffer(t['train.labels']['data'], np.int32).astype(np.int64)
    return torch.from_numpy((x - 0.5) / 0.25), torch.from_numpy(y), root['attrs']['classes']


def main():
    arch, path, batch, threads, warmup = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    x, y, classes = load(path)
    cin = x.shape[1]
    depth = {'resnet20': 3, 'resnet32': 5, 'resnet44': 7, 'resnet56': 9}
    model = (ResNet20(cin, classes, depth[arch]) if arch in depth
             else AlexNetSmall(cin, classes))
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    batches = x.shape[0] // batch
    start = None
    for b in range(batches):
        if b == warmup:
            start = time.perf_counter()
        xb, yb = x[b * batch:(b + 1) * batch], y[b * batch:(b + 1) * batch]
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
    secs = time.perf_counter() - start
    print(json.dumps({'side': 'pytorch', 'torch': torch.__version__, 'arch': arch,
                      'threads': threads, 'batch': batch,
                      'images_per_second': (batches - warmup) * batch / secs,
                      'peak_rss_mib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == '__main__':
    main()
