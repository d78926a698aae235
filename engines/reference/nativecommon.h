/* What the reference runtime's two C programs that start a container's process share
 * (execjoin.c for exec, containerinit.c for pid 1): fds, signals, confinement and the command's
 * look-up, each done as the Python path does it (containerinit.py, kernel.py).
 * Each program defines fail(), which reports a failed step its own way and does not return. */
#ifndef SEATRIAL_NATIVECOMMON_H
#define SEATRIAL_NATIVECOMMON_H
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NOT_FOUND 127 /* Docker's exit code for a command that is not there */
#define NOT_EXECUTABLE 126 /* and for one that cannot be executed */

static void fail(const char *what);

/* strerror as Go spells it: all lower case ("no such file or directory") */
static const char *words(int error) {
    static char text[256];
    snprintf(text, sizeof text, "%s", strerror(error));
    for (char *c = text; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    return text;
}

static int compare_ints(const void *a, const void *b) {
    return *(const int *)a - *(const int *)b;
}

/* close every fd above 2 but those in keep (sorted here) */
static void close_others(int *keep, int count) {
    qsort(keep, (size_t)count, sizeof *keep, compare_ints);
    unsigned int low = 3;
    for (int i = 0; i < count; i++) {
        if (keep[i] < (int)low)
            continue;
        if ((unsigned int)keep[i] > low)
            syscall(SYS_close_range, low, (unsigned int)keep[i] - 1, 0);
        low = (unsigned int)keep[i] + 1;
    }
    syscall(SYS_close_range, low, ~0U, 0);
}

/* mkdir -p; errors are left for the caller's next step (chdir, mount) to report */
static void make_directories(const char *path, mode_t mode) {
    char partial[4096];
    size_t length = strlen(path);
    if (length >= sizeof partial)
        return;
    for (size_t i = 1; i <= length; i++) {
        if (path[i] == '/' || path[i] == 0) {
            memcpy(partial, path, i);
            partial[i] = 0;
            mkdir(partial, mode);
        }
    }
}

/* every signal at its default and none blocked: by rt_sigaction(2) itself, since glibc's
 * signal(3) refuses the real-time signals it keeps for itself (32, 33), which a harness may
 * have ignored */
static void reset_signals(void) {
    struct {
        void *handler;
        unsigned long flags;
        void *restorer;
        unsigned long long mask;
    } action = {SIG_DFL, 0, NULL, 0};
    for (int signum = 1; signum <= 64; signum++)
        if (signum != SIGKILL && signum != SIGSTOP)
            syscall(SYS_rt_sigaction, signum, &action, NULL, sizeof action.mask);
    unsigned long long none = 0;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof none);
}

static void load_filter(struct sock_fprog *filter) {
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, filter, 0, 0) != 0)
        fail("prctl(PR_SET_SECCOMP)");
}

/* drop every capability not in keep from the bounding, ambient and process sets; last is the
 * host's cap_last_cap */
static void limit_capabilities(unsigned long long keep, int last) {
    for (int cap = 0; cap <= last && cap < 64; cap++)
        if (!(keep >> cap & 1) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0)
            fail("prctl(PR_CAPBSET_DROP)");
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0)
        fail("prctl(PR_CAP_AMBIENT_CLEAR_ALL)");
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2] = {
        {(__u32)keep, (__u32)keep, 0},
        {(__u32)(keep >> 32), (__u32)(keep >> 32), 0},
    };
    if (syscall(SYS_capset, &header, data) != 0)
        fail("capset");
}

/* groups, gid and uid by raw system calls: glibc's wrappers would signal every thread (there is
 * one) and the C library keeps nothing of them */
static void set_identity(unsigned long uid, unsigned long gid, size_t group_count, gid_t *groups) {
    if (syscall(SYS_setgroups, group_count, groups) != 0)
        fail("setgroups");
    if (syscall(SYS_setgid, gid) != 0)
        fail("setgid");
    if (syscall(SYS_setuid, uid) != 0)
        fail("setuid");
}

static int executable(const char *path, struct stat *st) {
    return stat(path, st) == 0 && !S_ISDIR(st->st_mode) && (st->st_mode & 0111);
}

static const char *path_of(char **envp) {
    const char *path = NULL;
    for (char **entry = envp; *entry; entry++)
        if (strncmp(*entry, "PATH=", 5) == 0)
            path = *entry + 5; /* the last one wins, as in a dict built from the list */
    return path ? path : "/bin:/usr/bin"; /* os.defpath, as the Python path has it */
}

/* The file execve(2) gets for command, found as runc finds it (Go's exec.LookPath): a name with
 * a slash as it is, else the first executable regular file of that name on envp's PATH, joined
 * as os.path.join does (no second slash), so that messages match the Python path. NULL when it
 * cannot start: *code is Docker's exit code for that, message says why in Docker's words. */
static const char *find_command(const char *command, char **envp, int *code, char *message, size_t room) {
    struct stat st;
    if (strchr(command, '/')) {
        if (stat(command, &st) != 0) {
            int error = errno;
            *code = NOT_FOUND;
            snprintf(message, room, "exec: \"%s\": stat %s: %s", command, command, words(error));
            return NULL;
        }
        if (S_ISDIR(st.st_mode) || !(st.st_mode & 0111)) {
            *code = NOT_EXECUTABLE;
            snprintf(message, room, "exec: \"%s\": permission denied", command);
            return NULL;
        }
        return command;
    }
    const char *path = path_of(envp);
    char *candidate = malloc(strlen(path) + strlen(command) + 3);
    if (candidate == NULL)
        fail("malloc");
    while (1) {
        const char *end = strchrnul(path, ':');
        size_t length = (size_t)(end - path);
        if (length == 0)
            sprintf(candidate, "./%s", command);
        else
            sprintf(candidate, "%.*s%s%s", (int)length, path, path[length - 1] == '/' ? "" : "/", command);
        if (executable(candidate, &st))
            return candidate;
        if (!*end)
            break;
        path = end + 1;
    }
    *code = NOT_FOUND;
    snprintf(message, room, "exec: \"%s\": executable file not found in $PATH", command);
    return NULL;
}

#endif
