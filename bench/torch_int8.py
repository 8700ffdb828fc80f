"""PyTorch's side of bench/int8_inference.sh: eager-mode static post-training
quantization of ResNet20 or AlexNetSmall (conv+BN+ReLU fused, per-tensor
affine int8, the 'onednn' engine of Debian's python3-torch), calibrated on a
few batches, then timed in inference mode: images/s at batch B and the
single-image latency; FP32 eval too. Prints one JSON line.
Usage: torch_int8.py ARCH BATCH THREADS BATCHES"""
import json
import sys
import time

import torch
import torch.nn as nn
import torch.ao.quantization as tq


class Block(nn.Module):
    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.down = None
        if stride != 1 or cin != planes:
            self.down = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False),
                                      nn.BatchNorm2d(planes))
        self.add = nn.quantized.FloatFunctional()
        self.relu2 = nn.ReLU()

    def forward(self, x):
        out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        skip = x if self.down is None else self.down(x)
        return self.relu2(self.add.add(out, skip))

    def fuse(self):
        tq.fuse_modules(self, [['conv1', 'bn1', 'relu1'], ['conv2', 'bn2']], inplace=True)
        if self.down is not None:
            tq.fuse_modules(self.down, [['0', '1']], inplace=True)


class ResNet20(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.quant, self.dequant = tq.QuantStub(), tq.DeQuantStub()
        self.conv1, self.bn1, self.relu = nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU()
        blocks, c = [], 16
        for stage, planes in enumerate((16, 32, 64)):
            for b in range(3):
                blocks.append(Block(c, planes, 2 if stage > 0 and b == 0 else 1))
                c = planes
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = self.blocks(self.relu(self.bn1(self.conv1(self.quant(x)))))
        return self.dequant(self.fc(torch.flatten(self.pool(x), 1)))

    def fuse(self):
        tq.fuse_modules(self, [['conv1', 'bn1', 'relu']], inplace=True)
        for b in self.blocks:
            b.fuse()


class AlexNetSmall(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.quant, self.dequant = tq.QuantStub(), tq.DeQuantStub()
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, 5, 1, 2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(96, 256, 5, 1, 2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(256, 384, 3, 1, 1), nn.ReLU(),
            nn.Conv2d(384, 384, 3, 1, 1), nn.ReLU(),
            nn.Conv2d(384, 256, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(3, 2))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Dropout(), nn.Linear(256, 4096), nn.ReLU(),
            nn.Dropout(), nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, classes))

    def forward(self, x):
        x = torch.flatten(self.pool(self.features(self.quant(x))), 1)
        return self.dequant(self.classifier(x))

    def fuse(self):
        tq.fuse_modules(self.features, [['0', '1'], ['3', '4'], ['6', '7'], ['8', '9'],
                                        ['10', '11']], inplace=True)
        tq.fuse_modules(self.classifier, [['1', '2'], ['4', '5']], inplace=True)


def timed(model, x, batches):
    with torch.inference_mode():
        for _ in range(3):
            model(x)
        t0 = time.perf_counter()
        for _ in range(batches):
            model(x)
        return time.perf_counter() - t0


def main():
    arch, batch, threads, batches = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    model = (ResNet20 if arch == 'resnet20' else AlexNetSmall)().eval()
    x = torch.randn(batch, 3, 32, 32)
    fp32 = timed(model, x, batches)
    torch.backends.quantized.engine = 'onednn'
    model.fuse()
    model.qconfig = tq.get_default_qconfig('onednn')
    tq.prepare(model, inplace=True)
    with torch.inference_mode():
        for _ in range(4):
            model(torch.randn(batch, 3, 32, 32))
    tq.convert(model, inplace=True)
    int8 = timed(model, x, batches)
    one = torch.randn(1, 3, 32, 32)
    single = timed(model, one, 50) / 50
    print(json.dumps({'torch': torch.__version__, 'engine': 'onednn',
                      'int8_images_per_second': batches * batch / int8,
                      'fp32_images_per_second': batches * batch / fp32,
                      'int8_single_image_ms': 1000 * single}))


if __name__ == '__main__':
    main()
