// sort_block.glsl: the sort's block, the keys a group of radix_totals and radix_scatter
// takes (and sort_args counts groups of): RD_SORT_THREADS threads of SORT_ITEMS keys.
// A specialization constant, so that the device's shared memory sets it (vk_sort.c's
// sort_items): RD_SORT_ITEMS fits lavapipe's 32 KiB.
layout(constant_id = 0) const uint SORT_ITEMS = RD_SORT_ITEMS;
const uint SORT_BLOCK = RD_SORT_THREADS * SORT_ITEMS;
