/* controls.h: the viewer's camera as a person moves it: orbit about a pivot, pan, zoom,
   fly, and back to where it started. Pure maths on rd_camera, no window system, so the
   tests can drive it. The camera keeps the intrinsics of the view it started from,
   fitted to the window. */
#ifndef VW_CONTROLS_H
#define VW_CONTROLS_H

#include "radiant.h"

typedef struct vw_controls {
    rd_camera base;       /* the view it started from: intrinsics and the reset pose */
    float rotation[9];    /* camera-to-world, row-major: columns are right, down, forward */
    float eye[3];
    float distance;       /* from the eye to the pivot, along forward */
    float up[3];          /* the world's up for orbiting: the base camera's -down */
    float speed;          /* fly speed, world units per second */
    int moved;            /* 0 until the pose changes: the base camera's w2c is used verbatim */
} vw_controls;

/* Starts at camera, orbiting a pivot distance ahead; fly speed from the scene's size. */
void vw_controls_init(vw_controls *c, const rd_camera *camera, float distance, float scene_radius);
/* Back to the starting camera. */
void vw_controls_reset(vw_controls *c);
/* Turns about the pivot: dx about the up axis, dy about the camera's right axis, in
   radians; the pitch stops short of looking straight along up. */
void vw_controls_orbit(vw_controls *c, float dx, float dy);
/* Moves eye and pivot across the view, by fractions of the pivot distance. */
void vw_controls_pan(vw_controls *c, float dx, float dy);
/* Moves the eye towards the pivot by a factor exp(-steps / 8) of the distance. */
void vw_controls_zoom(vw_controls *c, float steps);
/* Moves eye and pivot along the camera's right, down and forward axes for seconds at the
   fly speed times boost. */
void vw_controls_fly(vw_controls *c, const float move[3], float seconds, float boost);
/* The camera for a window of width x height: the pose, and the base intrinsics scaled to
   the window (rd_camera_resized when the aspect matches, else the vertical field of view
   is kept). */
rd_camera vw_controls_camera(const vw_controls *c, int width, int height);
/* The point the camera orbits. */
void vw_controls_pivot(const vw_controls *c, float out[3]);

#endif
