/* fuzz_file.h: the harnesses' context, and their way in: the input written to a file that the reader opens
   by path, as a user's would be (the readers take paths). */
#ifndef FUZZ_FILE_H
#define FUZZ_FILE_H

#include <radiant.h>

#include <stddef.h>
#include <stdint.h>

/* The harnesses' context, made once: the CPU backend, one thread, no log. NULL where it
   cannot be made. */
rd_context *fuzz_context(void);

/* The harness's private temporary folder; NULL where it cannot be made. */
const char *fuzz_dir(void);

/* A path (in that folder, with the given name, which may hold subfolders: they are made)
   that now holds the input; NULL where it cannot be written. */
const char *fuzz_file(const char *name, const uint8_t *data, size_t size);

/* The FNV-1a 64 of all but the last 8 of size (at least 8) bytes written into those 8,
   little-endian: the trailer radiant's checksummed files (compact, .rfeat, .rnerf) end in,
   made right so that mutations reach the checks behind it. */
void fuzz_fix_checksum(uint8_t *p, size_t size);

#endif
