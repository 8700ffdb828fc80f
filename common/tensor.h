/* Named n-dimensional arrays as stored in PCQ files (docs/FORMAT.md
 * §tensors): a dtype, a shape and little-endian raw bytes. */
#ifndef PCQ_TENSOR_H
#define PCQ_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#define TENSOR_MAX_DIMS 8

enum dtype { DTYPE_F32, DTYPE_F64, DTYPE_I8, DTYPE_U8, DTYPE_I16, DTYPE_I32,
	     DTYPE_I64, DTYPE_COUNT };

struct tensor {
	char *name;                       /* owned */
	enum dtype dtype;
	int ndim;                         /* 0 (a scalar) .. TENSOR_MAX_DIMS */
	int64_t shape[TENSOR_MAX_DIMS];
	size_t nbytes;                    /* numel · dtype_size */
	void *data;                       /* [nbytes], owned; NULL while another
					   * owner holds the values (pcqfile_write_from) */
};

size_t dtype_size(enum dtype t);
const char *dtype_name(enum dtype t);      /* "f32", "u8", ... */
int dtype_parse(const char *s, enum dtype *out);

/* Elements a shape holds; -1 when a dimension is negative or the product
 * overflows size_t once multiplied by the element size. */
int shape_numel(const int64_t *shape, int ndim, enum dtype t, size_t *numel);
/* "3x32x32" into buf (for messages and summaries); returns buf. */
char *shape_string(const int64_t *shape, int ndim, char *buf, size_t len);

#endif
