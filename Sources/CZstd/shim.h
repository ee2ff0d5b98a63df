#ifndef DYNOKEEPER_CZSTD_SHIM_H
#define DYNOKEEPER_CZSTD_SHIM_H
#include <zstd.h>
#endif
