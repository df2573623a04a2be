// nerf_view.glsl: the frame's parameters (render_vk.c's nerf_vk_view): the camera and
// the call's, the field's placement, the occupancy grid's shape and the field's layout.
// The host writes them into a host-visible buffer each frame; shaders read them through
// its address.
layout(buffer_reference, std430, buffer_reference_align = 4) readonly buffer NerfView {
    float w2c[16];
    float fx, fy, cx, cy;
    float scale, near_plane, far_plane, cone;
    float offset[4], background[4];
    uint width, pixels, expected_depth, cascades;
    uint levels, features, dense_levels, density_inputs;
    uint net_width, density_hidden, colour_hidden, colour_weights; // colour_weights: the colour network's first weight
    uint saliency_resolution, saliency_offset;                     // HollowNeRF's mask: R (0: none), its first logit
    float gate_sharpness;                                          // the density gate's alpha
    uint bit_offset[RD_NERF_VK_BIT_LEVELS];                        // bytes: level k of the occupancy bits
    float level_scale[RD_NERF_VK_MAX_LEVELS];
    uint resolution[RD_NERF_VK_MAX_LEVELS], size[RD_NERF_VK_MAX_LEVELS], level_offset[RD_NERF_VK_MAX_LEVELS];
};
