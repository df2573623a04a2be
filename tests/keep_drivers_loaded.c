/* keep_drivers_loaded.c: preloaded into the sanitizer run (tests/CMakeLists.txt), makes
   dlclose a no-op. The Vulkan loader unloads a driver when its instance is destroyed;
   Mesa's lavapipe keeps some allocations reachable only from its own globals, which
   LeakSanitizer no longer scans once the library is gone, so they would be reported as
   leaks of an "<unknown module>". With the driver left mapped they stay reachable, and
   real leaks (ours are in libradiant, which is never unloaded) are still found. */
#include <dlfcn.h>

int dlclose(void *handle)
{
    (void)handle;
    return 0;
}
