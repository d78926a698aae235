/* seatrial-execjoin: run one command in a running reference container, as `docker exec` does,
 * in a process of a few pages spawned by the harness (posix_spawn(3): no fork of a Python
 * interpreter, no zygote round trip).
 *
 * The harness (nativeexec.py) has checked pid 1 (a pidfd), opened its root (/proc/PID/root) and
 * resolved the user in the container's own /etc/passwd and /etc/group (identity.py); this
 * program does the rest, in the order nsexec.exec_child and containerinit.become do it:
 *   every fd but those named below closed; prctl(2) PR_SET_DUMPABLE 0 before anything of the
 *   container's can see it (CVE-2019-5736); the container's device cgroup joined (its tid to
 *   `tasks`); setns(2) by pidfd into pid 1's namespaces; chroot(2) into pid 1's root; fork(2),
 *   since a pid namespace applies to children only. The child: PR_SET_PDEATHSIG SIGKILL (an exec
 *   killed at its deadline takes its command along), the working directory made and entered,
 *   stdin /dev/null and the output pipes, every signal at its default and none blocked, the
 *   seccomp filter while CAP_SYS_ADMIN is held (or after the user change with no_new_privs), the
 *   capability sets limited, groups, gid and uid, the command looked up as Go's exec.LookPath
 *   does, execve(2). The parent waits and writes the exit code (128+N for a signal) as text on
 *   STATUS_FD, then exits with it.
 * A command that cannot start exits 126, found or not, with Docker's words on the exec's stderr.
 *
 * usage: execjoin STATUS_FD PIDFD ROOT_FD OUT_FD ERR_FD NSTYPES DEVICE_CGROUP WORKDIR UID GID
 *                 GROUPS CONFINED CAPABILITIES NO_NEW_PRIVS SECCOMP_FD -- ARGV...
 * GROUPS is comma-separated ("" for none); CAPABILITIES a hexadecimal mask of the capabilities
 * kept; SECCOMP_FD -1 or a file of struct sock_filter; DEVICE_CGROUP "" for none. The command's
 * environment is this program's own. Built by nativeexec.py with the host's C compiler; without
 * one the Python path of nsexec.py does all of this itself. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <grp.h>
#include <unistd.h>

#define NOT_STARTED 126 /* docker exec's code for a command it cannot start, missing or not */

extern char **environ;

static void say(const char *format, const char *a, const char *b) {
    char text[8192];
    int length = snprintf(text, sizeof text, format, a, b);
    if (length > 0)
        (void)!write(2, text, (size_t)length < sizeof text ? (size_t)length : sizeof text - 1);
}

/* strerror as Go spells it: all lower case ("no such file or directory") */
static const char *words(int error) {
    static char text[256];
    snprintf(text, sizeof text, "%s", strerror(error));
    for (char *c = text; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    return text;
}

static void fail(const char *what) {
    say("exec: %s: %s\n", what, words(errno));
    _exit(NOT_STARTED);
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

static void make_directories(const char *path) {
    char partial[4096];
    size_t length = strlen(path);
    if (length >= sizeof partial)
        return;
    for (size_t i = 1; i <= length; i++) {
        if (path[i] == '/' || path[i] == 0) {
            memcpy(partial, path, i);
            partial[i] = 0;
            mkdir(partial, 0755); /* EEXIST and the like: chdir(2) below says what is wrong */
        }
    }
}

/* every signal at its default: by rt_sigaction(2) itself, since glibc's signal(3) refuses the
 * real-time signals it keeps for itself (32, 33), which a harness may have ignored */
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
}

static void load_filter(struct sock_fprog *filter) {
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, filter, 0, 0) != 0)
        fail("prctl(PR_SET_SECCOMP)");
}

static int last_capability = 40; /* read from the host's /proc before joining */

static void limit_capabilities(unsigned long long keep) {
    int last = last_capability;
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

static int executable(const char *path, struct stat *st) {
    return stat(path, st) == 0 && !S_ISDIR(st->st_mode) && (st->st_mode & 0111);
}

/* execve(2) argv[0] found as Go's exec.LookPath finds it; never returns */
static void run(char **argv) {
    const char *command = argv[0];
    struct stat st;
    static char found[4096];
    if (strchr(command, '/')) {
        if (stat(command, &st) != 0) {
            int error = errno;
            char what[4200];
            snprintf(what, sizeof what, "stat %s: %s", command, words(error));
            say("exec: \"%s\": %s\n", command, what);
            _exit(NOT_STARTED);
        }
        if (S_ISDIR(st.st_mode) || !(st.st_mode & 0111)) {
            say("exec: \"%s\": %s\n", command, "permission denied");
            _exit(NOT_STARTED);
        }
        snprintf(found, sizeof found, "%s", command);
    } else {
        const char *path = getenv("PATH");
        if (path == NULL)
            path = "/bin:/usr/bin"; /* os.defpath, as the Python path has it */
        found[0] = 0;
        while (1) {
            const char *end = strchrnul(path, ':');
            int length = (int)(end - path);
            snprintf(found, sizeof found, "%.*s/%s", length ? length : 1, length ? path : ".", command);
            if (executable(found, &st))
                break;
            found[0] = 0;
            if (!*end)
                break;
            path = end + 1;
        }
        if (!found[0]) {
            say("exec: \"%s\": %s\n", command, "executable file not found in $PATH");
            _exit(NOT_STARTED);
        }
    }
    execve(found, argv, environ);
    say("exec %s: %s\n", found, words(errno));
    _exit(1);
}

int main(int argc, char **argv) {
    if (argc < 18 || strcmp(argv[16], "--") != 0)
        return NOT_STARTED;
    int status_fd = atoi(argv[1]), pidfd = atoi(argv[2]), root = atoi(argv[3]);
    int out = atoi(argv[4]), err = atoi(argv[5]), seccomp_fd = atoi(argv[15]);
    int nstypes = (int)strtol(argv[6], NULL, 0);
    const char *cgroup = argv[7], *workdir = argv[8][0] ? argv[8] : "/";
    uid_t uid = (uid_t)strtoul(argv[9], NULL, 10);
    gid_t gid = (gid_t)strtoul(argv[10], NULL, 10);
    int confined = atoi(argv[12]), no_new_privs = atoi(argv[14]);
    unsigned long long capabilities = strtoull(argv[13], NULL, 16);
    gid_t groups[256];
    int group_count = 0;
    for (char *item = argv[11]; *item && group_count < 256;) {
        groups[group_count++] = (gid_t)strtoul(item, &item, 10);
        if (*item == ',')
            item++;
        else
            break;
    }
    int keep[] = {status_fd, pidfd, root, out, err, seccomp_fd};
    close_others(keep, 6);
    int code = NOT_STARTED;
    /* from here on, errors go to the exec's stderr, as the Python path's do */
    if (dup2(err, 2) < 0)
        return NOT_STARTED;
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        fail("prctl(PR_SET_DUMPABLE, 0)");
    struct sock_fprog filter = {0, NULL};
    if (seccomp_fd >= 0) {
        struct stat st;
        if (fstat(seccomp_fd, &st) != 0 || st.st_size <= 0 || st.st_size % sizeof(struct sock_filter))
            fail("the seccomp filter");
        filter.filter = malloc((size_t)st.st_size);
        if (!filter.filter || pread(seccomp_fd, filter.filter, (size_t)st.st_size, 0) != st.st_size)
            fail("reading the seccomp filter");
        filter.len = (unsigned short)(st.st_size / sizeof(struct sock_filter));
        close(seccomp_fd);
    }
    FILE *file = fopen("/proc/sys/kernel/cap_last_cap", "re");
    if (file == NULL || fscanf(file, "%d", &last_capability) != 1)
        fail("/proc/sys/kernel/cap_last_cap");
    fclose(file);
    if (cgroup[0]) {
        char tasks[4200];
        snprintf(tasks, sizeof tasks, "%s/tasks", cgroup);
        int fd = open(tasks, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, "0", 1) != 1)
            fail(tasks);
        close(fd);
    }
    if (setns(pidfd, nstypes) != 0)
        fail("setns");
    if (fchdir(root) != 0 || chroot(".") != 0)
        fail("chroot");
    close(pidfd);
    close(root);
    pid_t child = fork();
    if (child < 0)
        fail("fork");
    if (child == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0)
            fail("prctl(PR_SET_PDEATHSIG)");
        close(status_fd);
        make_directories(workdir);
        if (chdir(workdir) != 0)
            fail(workdir);
        int null = open("/dev/null", O_RDONLY);
        if (null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0)
            fail("stdio");
        close(null);
        close(out);
        close(err);
        reset_signals();
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (confined && filter.len && !no_new_privs)
            load_filter(&filter); /* while CAP_SYS_ADMIN is still held, as runc does */
        if (confined)
            limit_capabilities(capabilities);
        if (setgroups((size_t)group_count, groups) != 0)
            fail("setgroups");
        if (setgid(gid) != 0)
            fail("setgid");
        if (setuid(uid) != 0)
            fail("setuid");
        /* again: a change of the effective uid or gid clears the parent-death signal */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0)
            fail("prctl(PR_SET_PDEATHSIG)");
        if (confined && no_new_privs) {
            if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
                fail("prctl(PR_SET_NO_NEW_PRIVS)");
            if (filter.len)
                load_filter(&filter);
        }
        run(argv + 17);
    }
    close(out);
    close(err);
    int status = 0;
    pid_t waited;
    while ((waited = waitpid(child, &status, 0)) < 0 && errno == EINTR)
        ;
    if (waited == child)
        code = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : NOT_STARTED;
    char text[16];
    int length = snprintf(text, sizeof text, "%d", code);
    (void)!write(status_fd, text, (size_t)length);
    return code & 0xFF;
}
