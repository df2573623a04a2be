/* make_checkpoints.c: writes the seed corpus of fuzz_checkpoint.c into the folder given:
   the harness's trainers (the same views and settings; 3D and 4D) checkpointed after 0, 3
   and 12 steps. Build against the library with fuzz_checkpoint.c and fuzz_file.c, and run
   when the checkpoint layout changes. */
#include "fuzz_file.h"

#include <stdbool.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
    if (argc != 2) return fprintf(stderr, "usage: make_checkpoints FOLDER\n"), 2;
    LLVMFuzzerTestOneInput((const uint8_t *)"", 0); /* makes the harness's trainer */
    extern rd_trainer *fuzz_checkpoint_trainer(bool four_d);
    for (int four_d = 0; four_d < 2; four_d++) {
        rd_trainer *t = fuzz_checkpoint_trainer(four_d);
        static const int steps[] = {0, 3, 9};
        for (int k = 0; t && k < 3; k++) {
            char path[4096];
            rd_trainer_step(t, steps[k], NULL);
            snprintf(path, sizeof path, "%s/%safter_%d_steps", argv[1], four_d ? "4d_" : "", k == 0 ? 0 : k == 1 ? 3 : 12);
            if (rd_trainer_save_checkpoint(t, path) != RD_OK) return fprintf(stderr, "%s\n", rd_last_error(fuzz_context())), 1;
        }
    }
    return 0;
}
