/* A mini-batch regrouped by cluster (SPEC §6): consecutive runs of images
 * of one cluster, in ascending cluster order. kmeans_regroup (kmeans.h)
 * makes them; the fake-quantization op (op_fakequant.c) and the integer
 * engine use each run's own activation ranges. */
#ifndef PCQ_CLUSTER_GROUPS_H
#define PCQ_CLUSTER_GROUPS_H

#include <stddef.h>
#include <stdint.h>

struct kmeans_group {
	int32_t cluster;
	size_t count;
};

/* The cluster of each of the n images the runs cover (groups NULL: all
 * cluster 0). Returns how many images the runs cover. */
static inline int cluster_groups_expand(int *cl, int n, const struct kmeans_group *groups,
					size_t n_groups)
{
	int i = 0;
	for (size_t g = 0; groups && g < n_groups; g++)
		for (size_t k = 0; k < groups[g].count && i < n; k++)
			cl[i++] = groups[g].cluster;
	int covered = groups ? i : n;
	for (; i < n; i++)
		cl[i] = 0;
	return covered;
}

#endif
