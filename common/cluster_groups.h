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

#endif
