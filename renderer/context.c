/* context.c: context lifetime, backend choice, errors and logging. */
#include "internal.h"
#include "backend.h"
#include "kinds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *rd_result_string(rd_result result)
{
    switch (result) {
    case RD_OK: return "ok";
    case RD_ERROR_INVALID_ARGUMENT: return "invalid argument";
    case RD_ERROR_IO: return "i/o error";
    case RD_ERROR_FORMAT: return "malformed file";
    case RD_ERROR_UNSUPPORTED: return "unsupported";
    case RD_ERROR_OUT_OF_MEMORY: return "out of memory";
    case RD_ERROR_BACKEND_UNAVAILABLE: return "backend unavailable";
    case RD_ERROR_DEVICE: return "device error";
    case RD_ERROR_LIMIT: return "beyond the decode limit";
    default: return "unknown result";
    }
}

const char *rd_backend_name(rd_backend backend)
{
    switch (backend) {
    case RD_BACKEND_AUTO: return "auto";
    case RD_BACKEND_CPU: return "cpu";
    case RD_BACKEND_CUDA: return "cuda";
    case RD_BACKEND_VULKAN: return "vulkan";
    }
    return "unknown";
}

int rd_backend_from_name(const char *name)
{
    for (int b = RD_BACKEND_AUTO; b <= RD_BACKEND_VULKAN; b++)
        if (name && strcmp(name, rd_backend_name((rd_backend)b)) == 0) return b;
    return -1;
}

static void vlog(rd_context *ctx, rd_log_level level, const char *fmt, va_list ap)
{
    if (!ctx || !ctx->log || level < ctx->log_level) return;
    char message[1024];
    vsnprintf(message, sizeof message, fmt, ap);
    ctx->log(level, message, ctx->log_user);
}

void rd_log(rd_context *ctx, rd_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(ctx, level, fmt, ap);
    va_end(ap);
}

/* The last failure of a call that had no context (rd_context_create), per thread. */
static _Thread_local char thread_error[1024];

rd_result rd_fail(rd_context *ctx, rd_result code, const char *fmt, ...)
{
    if (!ctx) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(thread_error, sizeof thread_error, fmt, ap);
        va_end(ap);
        return code;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->last_error, sizeof ctx->last_error, fmt, ap);
    va_end(ap);
    rd_log(ctx, RD_LOG_DEBUG, "%s: %s", rd_result_string(code), ctx->last_error);
    return code;
}

void rd_error_prefix(rd_context *ctx, const char *prefix)
{
    if (!ctx) return;
    char old[sizeof ctx->last_error];
    memcpy(old, ctx->last_error, sizeof old);
    snprintf(ctx->last_error, sizeof ctx->last_error, "%s: %s", prefix, old);
}

const char *rd_last_error(const rd_context *ctx)
{
    return ctx ? ctx->last_error : thread_error;
}

double rd_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

void *rd_alloc_array(int64_t count, size_t size)
{
    if (count < 0 || size == 0 || (uint64_t)count > SIZE_MAX / size) return NULL;
    return malloc(count == 0 ? 1 : (size_t)count * size);
}

int rd_compare_floats(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

rd_result rd_context_create(const rd_context_desc *desc, rd_context **out)
{
    rd_tuning tuning = {0};
    rd_tuning_from_env(&tuning);
    return rd_context_create_tuned(desc, &tuning, out);
}

rd_result rd_context_create_tuned(const rd_context_desc *desc, const rd_tuning *tuning, rd_context **out)
{
    static const rd_context_desc defaults = {0};
    thread_error[0] = '\0';
    if (!out) return rd_fail(NULL, RD_ERROR_INVALID_ARGUMENT, "rd_context_create: out is NULL");
    *out = NULL;
    if (!desc) desc = &defaults;
    rd_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return rd_fail(NULL, RD_ERROR_OUT_OF_MEMORY, "rd_context_create: out of memory");
    ctx->log = desc->log;
    ctx->log_user = desc->log_user;
    ctx->log_level = desc->log_level;
    if (tuning) ctx->tuning = *tuning; /* NULL: every choice the device's */
    ctx->threads = desc->threads > 0 ? desc->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (ctx->threads < 1) ctx->threads = 1;
    ctx->decode_limit = desc->decode_limit;

    rd_result r = rd_backend_open(ctx, desc);
    if (r != RD_OK) {
        /* keep the message for a caller that has no context to ask: the log, and
           rd_last_error(NULL) on this thread */
        rd_log(ctx, RD_LOG_ERROR, "%s", ctx->last_error);
        snprintf(thread_error, sizeof thread_error, "%s", ctx->last_error);
        rd_context_destroy(ctx);
        return r;
    }
    *out = ctx;
    return RD_OK;
}

void rd_context_destroy(rd_context *ctx)
{
    if (!ctx) return;
    rd_kind_states_free(ctx);
    rd_backend_close(ctx);
    free(ctx);
}

rd_backend rd_context_backend(const rd_context *ctx)
{
    return ctx ? ctx->backend : RD_BACKEND_AUTO;
}


uint64_t rd_decode_limit_ratio(const rd_context *ctx, uint64_t file_size, uint64_t ratio)
{
    int64_t chosen = ctx ? ctx->decode_limit : 0;
    if (chosen < 0) return UINT64_MAX;
    if (chosen > 0) return (uint64_t)chosen;
    uint64_t scaled = file_size > UINT64_MAX / ratio ? UINT64_MAX : file_size * ratio;
    return scaled > (uint64_t)RD_DECODE_LIMIT_FLOOR ? scaled : (uint64_t)RD_DECODE_LIMIT_FLOOR;
}

uint64_t rd_decode_limit(const rd_context *ctx, uint64_t file_size)
{
    return rd_decode_limit_ratio(ctx, file_size, RD_DECODE_LIMIT_RATIO);
}

rd_result rd_decode_check_ratio(rd_context *ctx, const char *path, uint64_t file_size, uint64_t bytes, const char *what,
                                uint64_t ratio)
{
    uint64_t limit = rd_decode_limit_ratio(ctx, file_size, ratio);
    if (bytes <= limit) return RD_OK;
    char why[160];
    if (ctx && ctx->decode_limit > 0)
        snprintf(why, sizeof why, "the caller's");
    else
        snprintf(why, sizeof why, "the default for this format: %llu times the file's size, at least %lld MiB",
                 (unsigned long long)ratio, (long long)(RD_DECODE_LIMIT_FLOOR >> 20));
    return rd_fail(ctx, RD_ERROR_LIMIT,
                   "%s: %s would take %.1f MiB from a %llu-byte file, beyond the decode limit of %.1f MiB (%s; a caller "
                   "that expects this raises rd_context_desc.decode_limit, the programs' --decode-limit)",
                   path, what, (double)bytes / 1048576.0, (unsigned long long)file_size, (double)limit / 1048576.0, why);
}

rd_result rd_decode_check(rd_context *ctx, const char *path, uint64_t file_size, uint64_t bytes, const char *what)
{
    return rd_decode_check_ratio(ctx, path, file_size, bytes, what, RD_DECODE_LIMIT_RATIO);
}

rd_result rd_decode_limit_from_text(const char *text, int64_t *limit)
{
    if (!text || !limit) return RD_ERROR_INVALID_ARGUMENT;
    if (strcmp(text, "none") == 0) {
        *limit = -1;
        return RD_OK;
    }
    char *end;
    long long mib = strtoll(text, &end, 10);
    if (end == text || *end || mib < 1 || mib > (1ll << 30)) return RD_ERROR_INVALID_ARGUMENT;
    *limit = (int64_t)mib << 20;
    return RD_OK;
}
