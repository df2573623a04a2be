#version 450
// present.comp: the frame the renderer left on the device (float RGBA, or a dataset image
// uploaded as float RGBA) into the storage image the swapchain image is blitted from,
// shown as RGB, depth or alpha, with the text overlay on top. Binding 0 is the one
// descriptor the viewer's pipeline layout declares (present.c).
#extension GL_EXT_buffer_reference : require
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require

layout(local_size_x = 16, local_size_y = 16) in;
layout(set = 0, binding = 0, rgba8) uniform writeonly image2D target;

layout(buffer_reference, std430, buffer_reference_align = 4) readonly buffer Floats { float v[]; };
layout(buffer_reference, std430, buffer_reference_align = 4) readonly buffer Uints { uint v[]; };

const uint MODE_RGB = 0, MODE_DEPTH = 1, MODE_ALPHA = 2;

layout(push_constant) uniform Present {
    uint64_t color;       // source RGBA floats
    uint64_t depth;       // source depth (MODE_DEPTH), else 0
    uint64_t overlay;     // overlay mask (overlay.h), 0 for none
    uvec2 source_size;    // source pixels; fitted into the target, centred, when it differs
    uvec2 target_size;
    uvec2 overlay_size;
    uint mode;
    uint overlay_scale;   // overlay pixels per mask pixel
    vec2 depth_range;     // near and far for MODE_DEPTH
    vec2 pad;
} pc;

void main()
{
    uvec2 p = gl_GlobalInvocationID.xy;
    if (p.x >= pc.target_size.x || p.y >= pc.target_size.y) return;
    vec3 rgb = vec3(0.0);
    // the source fitted into the target: identical sizes map pixel to pixel
    float scale = min(float(pc.target_size.x) / float(pc.source_size.x), float(pc.target_size.y) / float(pc.source_size.y));
    vec2 offset = 0.5 * (vec2(pc.target_size) - scale * vec2(pc.source_size));
    ivec2 s = pc.source_size == pc.target_size ? ivec2(p) : ivec2(floor((vec2(p) + 0.5 - offset) / scale));
    if (pc.color != 0 && all(greaterThanEqual(s, ivec2(0))) && all(lessThan(s, ivec2(pc.source_size)))) {
        uint i = uint(s.y) * pc.source_size.x + uint(s.x);
        Floats color = Floats(pc.color);
        float alpha = color.v[4 * i + 3];
        if (pc.mode == MODE_RGB) {
            rgb = vec3(color.v[4 * i], color.v[4 * i + 1], color.v[4 * i + 2]);
        } else if (pc.mode == MODE_ALPHA) {
            rgb = vec3(alpha);
        } else {
            // expected depth, near bright, far dark; empty pixels black
            float d = Floats(pc.depth).v[i];
            float t = clamp((d - pc.depth_range.x) / max(pc.depth_range.y - pc.depth_range.x, 1e-6), 0.0, 1.0);
            rgb = alpha > 0.01 ? vec3(1.0 - 0.9 * t) : vec3(0.0);
        }
    }
    if (pc.overlay != 0) {
        uvec2 o = p / pc.overlay_scale;
        if (o.x < pc.overlay_size.x && o.y < pc.overlay_size.y) {
            uint cell = Uints(pc.overlay).v[o.y * pc.overlay_size.x + o.x];
            if (cell == 1) rgb *= 0.35;
            if (cell == 2) rgb = vec3(1.0);
        }
    }
    imageStore(target, ivec2(p), vec4(clamp(rgb, 0.0, 1.0), 1.0));
}
