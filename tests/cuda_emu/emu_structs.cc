// The CUDA emulator's checks of the structs that cuda/ passes to kernels by
// value (see emu_arg_ok in cuda_runtime.h): every pointer in them must be
// device memory, as every pointer argument must.
#include "cuda_runtime.h"
#include "qkernels.h"

int emu_struct_ok(const qk_node &n, int i)
{
	const void *members[] = {n.weight, n.bias,   n.in_zero, n.out_zero, n.m0,
				 n.shift,  n.b_zero, n.a_mult,  n.b_mult};
	for (size_t j = 0; j < sizeof(members) / sizeof(members[0]); j++)
		if (members[j] && !emu_is_device(members[j])) {
			emu_fail(cudaErrorIllegalAddress,
				 "kernel argument %d, a qk_node: its pointer %zu (%p) is not device "
				 "memory", i, j, members[j]);
			return 0;
		}
	return 1;
}
