# Sourced by the benchmark scripts: the OpenBLAS core the peer (PyTorch,
# scikit-learn) should run. Debian's PyTorch multiplies its linear layers,
# and numpy under scikit-learn its distances, on Debian's OpenBLAS, whose
# DYNAMIC_ARCH build knows CPUs by model number and gives CPUs newer than
# itself Prescott's SSE3 kernels (5x slower on a 5th-generation Xeon).
# pcq-train and pcq-infer switch to oneDNN's sgemm there (common/gemm.c);
# so that the peer is not handicapped, it runs with OPENBLAS_CORETYPE set
# to the best core OpenBLAS has for this CPU's instruction sets:
#   env ${core:+OPENBLAS_CORETYPE=$core} PYTHON ...
#   peer_blas_core PYTHON MODULE   prints that core, or nothing when the
#                                  OpenBLAS that importing MODULE loads
#                                  already picked an AVX2 one (or none)
peer_blas_core() {
	core=$(OPENBLAS_VERBOSE=2 "$1" -c "import $2" 2>&1 | sed -n 's/^Core: //p' | head -1)
	case $core in
	'' | Haswell | SkylakeX | Cooperlake | SapphireRapids | Zen) return 0 ;;
	esac
	if grep -q '^flags.* avx512f' /proc/cpuinfo; then
		echo SkylakeX
	elif grep -q '^flags.* avx2' /proc/cpuinfo; then
		echo Haswell
	fi
}
