#define _GNU_SOURCE
#include <fcntl.h>

#include "dynokeeper_libc_shims.h"

int dynokeeper_o_direct(void) {
#ifdef O_DIRECT
    return O_DIRECT;
#else
    return 0;
#endif
}
