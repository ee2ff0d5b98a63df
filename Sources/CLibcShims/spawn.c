#define _GNU_SOURCE
#include "dynokeeper_libc_shims.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void close_from(int lowest) {
#ifdef SYS_close_range
    if (syscall(SYS_close_range, (unsigned int)lowest, ~0U, 0) == 0) {
        return;
    }
#endif
    long max = sysconf(_SC_OPEN_MAX);
    for (long fd = lowest; fd < (max > 0 ? max : 65536); fd++) {
        close((int)fd);
    }
}

int dynokeeper_spawn(const char *path, char *const argv[], char *const envp[], const char *directory,
                     const char *stdin_path, const char *output_path, pid_t *pid) {
    // A pipe closed on exec tells the parent whether execve succeeded, and why not.
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) {
        return errno;
    }
    pid_t child = fork();
    if (child < 0) {
        int error = errno;
        close(report[0]);
        close(report[1]);
        return error;
    }
    if (child == 0) {
        // Only async-signal-safe calls from here on.
        int error = 0;
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        struct sigaction defaults;
        memset(&defaults, 0, sizeof(defaults));
        defaults.sa_handler = SIG_DFL;
        for (int signal_number = 1; signal_number < NSIG; signal_number++) {
            sigaction(signal_number, &defaults, NULL);
        }
        setsid();
        int input = open(stdin_path ? stdin_path : "/dev/null", O_RDONLY);
        int output = open(output_path ? output_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (input < 0 || output < 0 || dup2(input, 0) < 0 || dup2(output, 1) < 0 || dup2(output, 2) < 0) {
            error = errno;
        } else if (directory && chdir(directory) != 0) {
            error = errno;
        }
        if (error == 0) {
            int keep = report[1];
            // Move the report pipe to 3 and close everything above it.
            if (keep != 3) {
                dup3(keep, 3, O_CLOEXEC);
            }
            close_from(4);
            execve(path, argv, envp);
            error = errno;
            (void)!write(3, &error, sizeof(error));
            _exit(127);
        }
        (void)!write(report[1], &error, sizeof(error));
        _exit(127);
    }
    close(report[1]);
    int error = 0;
    ssize_t got;
    do {
        got = read(report[0], &error, sizeof(error));
    } while (got < 0 && errno == EINTR);
    close(report[0]);
    if (got == sizeof(error) && error != 0) {
        int status;
        waitpid(child, &status, 0);
        return error;
    }
    *pid = child;
    return 0;
}
