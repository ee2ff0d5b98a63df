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

int dynokeeper_spawn_paused(const char *path, char *const argv[], char *const envp[], const char *directory,
                            const char *stdin_path, const char *output_path, pid_t *pid, int *control) {
    // `report` (closed on exec) tells the parent whether execve succeeded, and why not; the child waits on `go`
    // before it executes anything, so that the parent can record its pid first.
    int report[2];
    int go[2];
    if (pipe2(report, O_CLOEXEC) != 0) {
        return errno;
    }
    if (pipe2(go, O_CLOEXEC) != 0) {
        int error = errno;
        close(report[0]);
        close(report[1]);
        return error;
    }
    pid_t child = fork();
    if (child < 0) {
        int error = errno;
        close(report[0]);
        close(report[1]);
        close(go[0]);
        close(go[1]);
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
            // The report pipe goes to 3 and the go pipe to 4 (both closed on exec); everything above is closed.
            int keep_report = report[1];
            int keep_go = go[0];
            if (keep_go == 3) {
                keep_go = fcntl(keep_go, F_DUPFD_CLOEXEC, 5);
            }
            if (keep_report != 3) {
                dup3(keep_report, 3, O_CLOEXEC);
            }
            if (keep_go != 4) {
                dup3(keep_go, 4, O_CLOEXEC);
            }
            close_from(5);
            char byte;
            ssize_t got;
            do {
                got = read(4, &byte, 1);
            } while (got < 0 && errno == EINTR);
            if (got != 1) {
                // The parent went away before it let us run: run nothing.
                _exit(127);
            }
            execve(path, argv, envp);
            error = errno;
            (void)!write(3, &error, sizeof(error));
            _exit(127);
        }
        (void)!write(report[1], &error, sizeof(error));
        _exit(127);
    }
    close(report[1]);
    close(go[0]);
    *pid = child;
    control[0] = go[1];
    control[1] = report[0];
    return 0;
}

int dynokeeper_spawn_release(pid_t child, const int control[2]) {
    char byte = 1;
    ssize_t written;
    do {
        written = write(control[0], &byte, 1);
    } while (written < 0 && errno == EINTR);
    close(control[0]);
    int error = 0;
    ssize_t got;
    do {
        got = read(control[1], &error, sizeof(error));
    } while (got < 0 && errno == EINTR);
    close(control[1]);
    if (got == sizeof(error) && error != 0) {
        int status;
        waitpid(child, &status, 0);
        return error;
    }
    return 0;
}
