/* preprocess.c: the camera and scene as the kernels see them (the per-Gaussian steps are
   in splat_math.h). */
#include "splat.h"

#include <string.h>

void rd_view_params_init(rd_view_params *vp, const rd_camera *cam, const rd_render_desc *desc,
                         const rd_scene *scene)
{
    memset(vp, 0, sizeof *vp);
    for (int r = 0; r < 3; r++) {
        for (int c = 0; c < 3; c++) vp->rot[3 * r + c] = cam->w2c[4 * r + c];
        vp->trans[r] = cam->w2c[4 * r + 3];
    }
    rd_camera_center(cam, vp->centre);
    vp->fx = cam->fx;
    vp->fy = cam->fy;
    vp->cx = cam->cx;
    vp->cy = cam->cy;
    vp->tan_half_fov_x = 0.5f * (float)cam->width / cam->fx;
    vp->tan_half_fov_y = 0.5f * (float)cam->height / cam->fy;
    vp->near_plane = cam->near_plane > 0.0f ? cam->near_plane : RD_DEFAULT_NEAR;
    vp->far_plane = cam->far_plane > 0.0f ? cam->far_plane : RD_DEFAULT_FAR;
    vp->width = cam->width;
    vp->height = cam->height;
    vp->tiles_x = (cam->width + RD_TILE_SIZE - 1) / RD_TILE_SIZE;
    vp->tiles_y = (cam->height + RD_TILE_SIZE - 1) / RD_TILE_SIZE;
    vp->sh_degree = scene->sh_degree;
    if (desc->sh_degree > 0 && desc->sh_degree - 1 < vp->sh_degree) vp->sh_degree = desc->sh_degree - 1;
    vp->flags = desc->flags;
    if ((desc->flags & RD_RENDER_SCENE_FLAGS) && (scene->flags & RD_SCENE_ANTIALIASED))
        vp->flags |= RD_RENDER_ANTIALIASED;
    for (int c = 0; c < 3; c++) vp->background[c] = desc->background[c];
}

rd_gaussians rd_scene_gaussians(const rd_scene *s)
{
    rd_gaussians g = {s->count, s->sh_degree, s->means, s->log_scales, s->rotations, s->opacities, s->sh};
    return g;
}
