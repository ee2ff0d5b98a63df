#include "dynokeeper_libc_shims.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

int dynokeeper_tune_malloc(int threshold) {
#if defined(__GLIBC__)
    return mallopt(M_MMAP_THRESHOLD, threshold);
#else
    (void)threshold;
    return 0;
#endif
}
