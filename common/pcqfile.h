/* The one container of every file the tools exchange (docs/FORMAT.md is
 * the normative spec; this header does not repeat it): a kind, provenance
 * metadata, typed attributes, an optional layer graph and named tensors. */
#ifndef PCQ_PCQFILE_H
#define PCQ_PCQFILE_H

#include "attrs.h"
#include "tensor.h"

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#define PCQ_FORMAT_NAME "pcq"
#define PCQ_FORMAT_VERSION 1

enum file_kind {
	KIND_MODEL,        /* "model": a pre-trained FP32 model */
	KIND_FUSED,        /* "fused-model": BN folded, fake-quant ranges */
	KIND_QUANTIZED,    /* "quantized-model": integer parameters */
	KIND_KMEANS,       /* "kmeans": cluster centres and features */
	KIND_DATASET,      /* "dataset": decoded images and labels */
	KIND_PREDICTIONS,  /* "predictions": per-image outputs */
	KIND_TENSORS,      /* "tensors": named tensors only (test fixtures, exports) */
	KIND_COUNT,
	KIND_ANY = -1      /* for readers that accept every kind */
};

const char *file_kind_name(enum file_kind k);
int file_kind_parse(const char *s, enum file_kind *out);

struct input_digest {
	char *path;          /* as given on the command line, owned */
	char *sha256;        /* 64 hex digits, owned */
};

struct provenance {
	char *tool;          /* "pcq-train" */
	char *tool_version;
	char *created;       /* UTC, "2026-11-27T09:20:00Z" */
	char **argv;         /* the full command line [argc], owned */
	size_t argc;
	struct input_digest *inputs;   /* [n_inputs], owned */
	size_t n_inputs;
	int has_seed;
	int64_t seed;
};

/* One node of a model's graph. Its parameters are the tensors named
 * "<name>.<param>"; its inputs name earlier layers or "input". */
struct layer {
	char *name;
	char *op;            /* "conv2d", "batchnorm2d", "relu", "add", ... */
	char **inputs;       /* [n_inputs], owned */
	size_t n_inputs;
	struct attrs params; /* hyperparameters: kernel, stride, ... */
};

struct pcqfile {
	enum file_kind kind;
	struct provenance prov;
	struct attrs attrs;
	struct layer *layers;    /* [n_layers], in execution order */
	size_t n_layers;
	struct tensor *tensors;  /* [n_tensors], in file order */
	size_t n_tensors;
};

/* Reads and validates PATH ("-": stdin). expect is a kind, or KIND_ANY.
 * Every failure prints one line "tool: 'PATH': what is wrong". When digest
 * is not NULL it receives the sha256 of the bytes read (65 chars). */
int pcqfile_read(struct pcqfile *f, const char *path, int expect, char *digest);
/* Same, from bytes in memory; name is used in messages. */
int pcqfile_parse(struct pcqfile *f, const char *name, const uint8_t *buf,
		  size_t len, int expect);
/* Writes atomically to PATH ("-": stdout); see fileio.h. */
int pcqfile_write(const struct pcqfile *f, const char *path);
/* Same, taking each tensor's bytes from values(ctx, t) when that is not
 * NULL (a tensor whose data another owner holds, t->data NULL). */
int pcqfile_write_from(const struct pcqfile *f, const char *path,
		       const void *(*values)(void *ctx, const struct tensor *t), void *ctx);
/* The bytes pcqfile_write_from writes, onto fp (errors stay in its flag). */
void pcqfile_pack(const struct pcqfile *f, FILE *fp,
		  const void *(*values)(void *ctx, const struct tensor *t), void *ctx);
void pcqfile_free(struct pcqfile *f);

/* Provenance of the file being made by this run: tool, version, UTC time
 * (SOURCE_DATE_EPOCH when set, for reproducible bytes), the command line. */
void provenance_init(struct provenance *p, int argc, char **argv);
void provenance_add_input(struct provenance *p, const char *path, const char *sha256);
void provenance_set_seed(struct provenance *p, int64_t seed);
/* Drops a file's provenance (before a tool writes it anew). */
void pcqfile_free_provenance(struct pcqfile *f);

/* Tensors: lookup by name (NULL when absent); add copies data. */
const struct tensor *pcqfile_tensor(const struct pcqfile *f, const char *name);
struct tensor *pcqfile_add_tensor(struct pcqfile *f, const char *name,
				  enum dtype dtype, int ndim, const int64_t *shape,
				  const void *data);
/* Appends a layer (params empty, filled by the caller). */
struct layer *pcqfile_add_layer(struct pcqfile *f, const char *name,
				const char *op, const char *const *inputs,
				size_t n_inputs);

#endif
