/* primitives_test.h: the parts of test_primitives (test_primitives.c runs every backend
   through renderer/primitives.h; primitives_vk.c the Vulkan forms' own variants). */
#ifndef PRIMITIVES_TEST_H
#define PRIMITIVES_TEST_H

#include "test_util.h"

/* The Vulkan scan and sort at every variant the device runs; false where there is no
   usable Vulkan device. */
bool vk_primitive_variants(test_rng *r);

#endif
