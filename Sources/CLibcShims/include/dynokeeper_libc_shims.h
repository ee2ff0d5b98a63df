#ifndef DYNOKEEPER_LIBC_SHIMS_H
#define DYNOKEEPER_LIBC_SHIMS_H

#include <sys/types.h>

/// Makes glibc malloc serve blocks of `threshold` bytes and more with mmap and return them to the system when
/// freed, instead of keeping them in per-thread arenas: transfers allocate and free many large part buffers,
/// and without this the resident size grows to about twice what is in use. Returns 1 on success.
int dynokeeper_tune_malloc(int threshold);

/// Starts a program with fork and execve, so that the child inherits nothing but its standard streams:
/// every other descriptor is closed and every signal disposition reset. (Foundation's Process leaves a
/// descriptor open in the child, so a daemon it starts keeps the parent waiting.)
///
/// - stdin_path: opened read-only as standard input (NULL: /dev/null).
/// - output_path: standard output and error, created or truncated (NULL: /dev/null).
/// - directory: the working directory (NULL: unchanged).
/// Returns 0 and sets *pid, or an errno value.
int dynokeeper_spawn(const char *path, char *const argv[], char *const envp[], const char *directory,
                     const char *stdin_path, const char *output_path, pid_t *pid);

#endif
