#ifndef DYNOKEEPER_SPAWN_H
#define DYNOKEEPER_SPAWN_H

#include <sys/types.h>

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
