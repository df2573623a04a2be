/* make_checkpoints.c: writes the seed corpus of fuzz_checkpoint.c into the folder given:
   the harness's trainer (the same views and settings) checkpointed after 0, 3 and 12
   steps. Build against the library and run when the checkpoint layout changes. */
#include "fuzz_file.h"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
    if (argc != 2) return fprintf(stderr, "usage: make_checkpoints FOLDER\n"), 2;
    LLVMFuzzerTestOneInput((const uint8_t *)"", 0); /* makes the harness's trainer */
    extern rd_trainer *fuzz_checkpoint_trainer(void);
    rd_trainer *t = fuzz_checkpoint_trainer();
    static const int steps[] = {0, 3, 9};
    for (int k = 0; k < 3; k++) {
        char path[4096];
        rd_trainer_step(t, steps[k], NULL);
        snprintf(path, sizeof path, "%s/after_%d_steps", argv[1], k == 0 ? 0 : k == 1 ? 3 : 12);
        if (rd_trainer_save_checkpoint(t, path) != RD_OK) return fprintf(stderr, "%s\n", rd_last_error(fuzz_context())), 1;
    }
    return 0;
}
