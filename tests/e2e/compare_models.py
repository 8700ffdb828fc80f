"""compare_models.py A B [TOL]: the largest difference between the float
tensors of two PCQ files of the same model, relative to each tensor's
largest magnitude; prints it with the tensor's name, and exits 1 when a
tensor is missing, differs in shape, or differs by more than TOL (default
1e-4). Used by the data-parallel tests (tests/e2e/test_ranks.sh)."""
import sys

import msgpack
import numpy as np


def tensors(path):
    root = msgpack.unpackb(open(path, 'rb').read(), raw=False)
    out = {}
    for t in root['tensors']:
        if t['dtype'] == 'f32':
            out[t['name']] = np.frombuffer(t['data'], dtype='<f4').reshape(t['shape'])
    return out


a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
tol = float(sys.argv[3]) if len(sys.argv) > 3 else 1e-4
if a.keys() != b.keys():
    sys.exit('tensors differ: %s' % sorted(a.keys() ^ b.keys()))
worst, name = 0.0, ''
for k in sorted(a):
    if a[k].shape != b[k].shape:
        sys.exit('%s: shapes %s and %s' % (k, a[k].shape, b[k].shape))
    scale = max(float(np.abs(a[k]).max(initial=0)), float(np.abs(b[k]).max(initial=0)), 1e-30)
    d = float(np.abs(a[k].astype(np.float64) - b[k]).max(initial=0)) / scale
    if d > worst:
        worst, name = d, k
print('%.3g %s' % (worst, name))
sys.exit(1 if worst > tol else 0)
