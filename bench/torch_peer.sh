# Sourced by the benchmark scripts that run PyTorch as the peer: sets py
# (Debian's python3 with torch, or $PYTHON_TORCH), here (bench/),
# blas_core (peer_blas.sh's OpenBLAS core for PyTorch, or empty) and tmp, a
# scratch folder removed on exit.
py=${PYTHON_TORCH:-/usr/bin/python3}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/peer_blas.sh"
blas_core=$(peer_blas_core "$py" torch)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
