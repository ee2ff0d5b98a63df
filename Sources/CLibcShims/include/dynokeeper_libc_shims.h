#ifndef DYNOKEEPER_LIBC_SHIMS_H
#define DYNOKEEPER_LIBC_SHIMS_H

#include <sys/types.h>

/// Makes glibc malloc serve blocks of `threshold` bytes and more with mmap and return them to the system when
/// freed, instead of keeping them in per-thread arenas: transfers allocate and free many large part buffers,
/// and without this the resident size grows to about twice what is in use. Returns 1 on success.
int dynokeeper_tune_malloc(int threshold);

/// The open flag O_DIRECT (its value differs between architectures, and Swift does not see it: glibc defines it
/// only for _GNU_SOURCE); 0 where there is none.
int dynokeeper_o_direct(void);

/// Starts writing a range of a file's dirty pages to disk without waiting for it (sync_file_range with
/// SYNC_FILE_RANGE_WRITE), so that the final fsync finds little left to do; returns 0, or -1 with errno.
int dynokeeper_write_behind(int fd, long long offset, long long count);

/// Starts a program with fork and execve, so that the child inherits nothing but its standard streams:
/// every other descriptor is closed and every signal disposition reset, and it runs in a session of its own.
/// (Foundation's Process leaves a descriptor open in the child, so a daemon it starts keeps the parent waiting.)
///
/// In two steps: `dynokeeper_spawn_paused` forks a child that waits before it executes anything, so that the
/// caller can record its pid first; `dynokeeper_spawn_release` lets it run and reports whether execve worked.
///
/// - stdin_path: opened read-only as standard input (NULL: /dev/null).
/// - output_path: standard output and error, created or truncated (NULL: /dev/null).
/// - directory: the working directory (NULL: unchanged).
/// - control: receives the two descriptors `dynokeeper_spawn_release` needs (it closes them).
/// Each returns 0, or an errno value (the paused child then runs nothing and exits).
int dynokeeper_spawn_paused(const char *path, char *const argv[], char *const envp[], const char *directory,
                            const char *stdin_path, const char *output_path, pid_t *pid, int *control);

int dynokeeper_spawn_release(pid_t child, const int control[2]);

#endif
