/* compact_test.h: what the compact file's tests share (test_compact.c for 3D scenes, the
   bit budget, pruning, fine-tuning and broken files; test_compact_networks.c for 4D
   scenes' appearance networks and merging): the context, a temporary folder and the random
   source, random scenes, renders and their PSNR, a file's round trip, photos to fit, and
   files rebuilt with a part or the configuration edited. */
#ifndef RD_COMPACT_TEST_H
#define RD_COMPACT_TEST_H

#include "test_util.h"
#include "../compress/compact.h"

extern rd_context *ctx; /* the CPU, two threads */
extern const char *tmp; /* the test's temporary folder */
extern test_rng rng;

/* Half-float rounding of want: at most 2^-11 of it (and 2^-24 near zero). */
bool near_half(double got, double want);
/* The colour beyond DC scaled to 0.15 of itself, as in trained scenes. */
void damp_rest(rd_scene *s);
int64_t count_of(const rd_scene *s);
rd_scene *random_3d(int n, int degree, bool degenerate);
rd_scene *random_4d(int n, int sh_degree, int time_degree);
/* scene rendered from cam at time into out (RGBA, allocated here). */
void render_image(const rd_scene *scene, const rd_camera *cam, float time, rd_image *out);
/* scene's render from cam at time against truth (rd_image_compare's PSNR). */
double psnr_of(const rd_scene *scene, const rd_camera *cam, float time, const rd_image *truth);
/* The PSNR between a's and b's renders from cam (NULL: at the origin looking down +z, 96x72). */
double render_psnr_from(const rd_scene *a, const rd_scene *b, float time, const rd_camera *from);
double render_psnr(const rd_scene *a, const rd_scene *b, float time);
/* s written to tmp/name with desc (NULL: the defaults) and loaded back; NULL on failure. */
rd_scene *round_trip(const rd_scene *s, const char *name, const rd_compact_desc *desc, rd_compact_report *report);
/* n photos of scene, at time 0, or (over_time) spread over 0..1. */
rd_train_view *photos_of(const rd_scene *scene, int n, int width, int height, bool over_time);
void photos_free(rd_train_view *views, int n);
/* The mean PSNR of scene's renders against the photos. */
double psnr_against(const rd_scene *scene, const rd_train_view *views, int n);
/* The file desc writes without fine-tuning, then with `steps` of it: the tuned one renders
   desc's photos at least 0.3 dB closer. */
void check_tuning_gains(const rd_scene *s, const rd_compact_desc *desc, int steps, const char *name, const char *what);
/* path's file with its configuration's text `from` replaced by `to` and, where tail is not
   0, its last part's `tail` bytes by new_tail's new_tail_bytes; the checksum made right. */
const char *rebuilt(const char *path, const char *name, const char *from, const char *to, size_t tail,
                    const unsigned char *new_tail, size_t new_tail_bytes);
const char *edited(const char *path, const char *name, const char *from, const char *to);
/* path's file with n raw bytes of its part `part` (the last), from byte at (from the end
   where negative), set to values: the part inflated, changed, deflated again, its "bytes"
   made right. */
const char *with_last_part(const char *path, const char *name, const char *part, long long at, const unsigned char *values, size_t n);
/* Loading path fails with code, naming the file, a and (where not NULL) b. */
void expect_error(const char *path, rd_result code, const char *a, const char *b);

#endif
