/* gzip.h: unwraps a gzip member (RFC 1952) with stb's inflate, refusing output larger than
   the member's trailer declares or than deflate can produce from its input. */
#ifndef RD_GZIP_H
#define RD_GZIP_H

#include "../renderer/internal.h"

rd_result rd_gunzip(rd_context *ctx, const char *path, const unsigned char *data, size_t size, unsigned char **out,
                    size_t *out_size);

#endif
