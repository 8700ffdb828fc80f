"""PyTorch's side of bench/ranks_throughput.sh: torch_train.py's training
(same models, recipe, batches and warm-up) with DistributedDataParallel on
RANKS processes of THREADS threads each over the gloo backend (CPU), every
process taking its share of each batch of BATCH images as pcq-train's ranks
do (batch norm on its own share: DDP's default). Prints one JSON line with
the images/s of the timed batches, measured on rank 0.
Usage: torch_ddp_train.py ARCH DATASET BATCH RANKS THREADS WARMUP_BATCHES"""
import json
import os
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_train import load  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'fixtures'))
from torch_models import AlexNetSmall, ResNet20  # noqa: E402


def run(rank, ranks, arch, path, batch, threads, warmup, port):
    os.environ['MASTER_ADDR'] = '127.0.0.1'
    os.environ['MASTER_PORT'] = str(port)
    dist.init_process_group('gloo', rank=rank, world_size=ranks)
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    x, y, classes = load(path)
    depth = {'resnet20': 3, 'resnet32': 5, 'resnet44': 7, 'resnet56': 9}
    model = (ResNet20(x.shape[1], classes, depth[arch]) if arch in depth
             else AlexNetSmall(x.shape[1], classes))
    model.train()
    model = torch.nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    first, last = batch * rank // ranks, batch * (rank + 1) // ranks
    batches = x.shape[0] // batch
    start = None
    for b in range(batches):
        if b == warmup:
            dist.barrier()
            start = time.perf_counter()
        xb, yb = x[b * batch + first:b * batch + last], y[b * batch + first:b * batch + last]
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
    dist.barrier()
    secs = time.perf_counter() - start
    if rank == 0:
        print(json.dumps({'side': 'pytorch-ddp', 'torch': torch.__version__, 'arch': arch,
                          'ranks': ranks, 'threads': threads, 'batch': batch,
                          'images_per_second': (batches - warmup) * batch / secs}))
    dist.destroy_process_group()


def main():
    arch, path = sys.argv[1], sys.argv[2]
    batch, ranks, threads, warmup = map(int, sys.argv[3:7])
    port = 29500 + os.getpid() % 1000
    mp.spawn(run, args=(ranks, arch, path, batch, threads, warmup, port), nprocs=ranks)


if __name__ == '__main__':
    main()
