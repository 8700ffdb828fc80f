"""PyTorch's side of the GPU training benchmark (bench/gpu_check.sh, issue
8): ResNet20 or AlexNetSmall trained on random 3x32x32 batches on the GPU
(eager mode, cuDNN, SGD momentum 0.9, weight decay 1e-4), timed after
warm-up with the GPU synchronised; one JSON line with images/s for each
of PyTorch's default (cuDNN convolutions may use TF32 tensor cores:
torch.backends.cudnn.allow_tf32 is True by default) and strict FP32
(allow_tf32 False: pcq's arithmetic, the like-for-like figure).
Usage: torch_train_cuda.py ARCH BATCH BATCHES WARMUP"""
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'fixtures'))
from torch_models import AlexNetSmall, ResNet20  # noqa: E402


def run(arch, batch, batches, warmup, tf32):
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.manual_seed(1)
    dev = torch.device('cuda')
    model = (ResNet20(3, 10) if arch == 'resnet20' else AlexNetSmall(3, 10)).to(dev).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    x = torch.randn(batches, batch, 3, 32, 32, device=dev)
    y = torch.randint(0, 10, (batches, batch), device=dev)
    for b in range(batches):
        if b == warmup:
            torch.cuda.synchronize()
            start = time.perf_counter()
        opt.zero_grad()
        F.cross_entropy(model(x[b]), y[b]).backward()
        opt.step()
    torch.cuda.synchronize()
    secs = time.perf_counter() - start
    print(json.dumps({'side': 'pytorch', 'torch': torch.__version__, 'arch': arch,
                      'gpu': torch.cuda.get_device_name(), 'batch': batch,
                      'conv_tf32': tf32, 'images_per_second': (batches - warmup) * batch / secs}))


def main():
    arch, batch, batches, warmup = sys.argv[1], *map(int, sys.argv[2:])
    for tf32 in (True, False):
        run(arch, batch, batches, warmup, tf32)


if __name__ == '__main__':
    main()
