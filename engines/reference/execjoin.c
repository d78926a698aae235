/* seatrial-execjoin: run one command in a running reference container, as `docker exec` does,
 * in a process of a few pages spawned by the harness (posix_spawn(3): no fork of a Python
 * interpreter, no zygote round trip).
 *
 * The harness (nativeexec.py) has checked pid 1 (a pidfd), opened its root (/proc/PID/root) and
 * resolved the user in the container's own /etc/passwd and /etc/group (identity.py); this
 * program does the rest, in the order nsexec.exec_child and containerinit.become do it:
 *   every fd but those named below closed, stdin and stdout the host's /dev/null;
 *   prctl(2) PR_SET_DUMPABLE 0 before anything of the container's can see it (CVE-2019-5736);
 *   the container's device cgroup joined (its tid to `tasks`); setns(2) by pidfd into pid 1's
 *   namespaces; chroot(2) into pid 1's root; clone(2) with CLONE_PARENT, since a pid namespace
 *   applies to children only: the command's process is the harness's child, not this program's,
 *   so that the harness hears its end directly. This program writes that child's pid on
 *   STATUS_FD and exits; the harness waits for the child itself. The child: PR_SET_PDEATHSIG
 *   SIGKILL (an exec killed at its deadline, or a harness that dies, takes the command along),
 *   the working directory made and entered, stdin the host's /dev/null (a container cannot
 *   make it a FIFO), stdout and stderr the output pipes, every signal at its default and none
 *   blocked, the seccomp filter while CAP_SYS_ADMIN is held (or after the user change with
 *   no_new_privs), the capability sets limited, groups, gid and uid (then PR_SET_PDEATHSIG
 *   again: a uid change clears it), the command looked up as Go's exec.LookPath does, execve(2).
 * A command that cannot start exits 126, found or not, with Docker's words on the exec's stderr;
 * so does this program when it cannot get that far (it then writes no pid).
 *
 * usage: execjoin STATUS_FD PIDFD ROOT_FD OUT_FD ERR_FD NSTYPES DEVICE_CGROUP WORKDIR UID GID
 *                 GROUPS CONFINED CAPABILITIES NO_NEW_PRIVS SECCOMP_FD LAST_CAP ARGC ARGV... ENV...
 * GROUPS is comma-separated ("" for none); CAPABILITIES a hexadecimal mask of the capabilities
 * kept; SECCOMP_FD -1 or a file of struct sock_filter; DEVICE_CGROUP "" for none; LAST_CAP the
 * host's /proc/sys/kernel/cap_last_cap (read once by the harness); ARGC the
 * number of the command's arguments that follow, then its environment ("KEY=value" each). The
 * environment comes as arguments, not as this program's own, so that nothing a container's
 * image sets (GLIBC_TUNABLES, say) reaches the C library of a root process of the host. Built by
 * nativeexec.py with the host's C compiler; without one the Python path of nsexec.py does all of
 * this itself. */
#include "nativecommon.h"
#include <fcntl.h>
#include <sched.h>
#include <grp.h>

#define NOT_STARTED 126 /* docker exec's code for a command it cannot start, missing or not */


static void say(const char *format, const char *a, const char *b) {
    char text[8192];
    int length = snprintf(text, sizeof text, format, a, b);
    if (length > 0)
        (void)!write(2, text, (size_t)length < sizeof text ? (size_t)length : sizeof text - 1);
}

static void fail(const char *what) {
    say("exec: %s: %s\n", what, words(errno));
    _exit(NOT_STARTED);
}

/* execve(2) argv[0] found as Go's exec.LookPath finds it, with envp; never returns */
static void run(char **argv, char **envp) {
    char message[8192];
    int code;
    const char *found = find_command(argv[0], envp, &code, message, sizeof message);
    if (found == NULL) {
        say("%s%s\n", message, "");
        _exit(NOT_STARTED);
    }
    syscall(SYS_execve, found, argv, envp);
    say("exec %s: %s\n", found, words(errno));
    _exit(1);
}

int main(int argc, char **argv) {
    if (argc < 19)
        return NOT_STARTED;
    int status_fd = atoi(argv[1]), pidfd = atoi(argv[2]), root = atoi(argv[3]);
    int out = atoi(argv[4]), err = atoi(argv[5]), seccomp_fd = atoi(argv[15]);
    int nstypes = (int)strtol(argv[6], NULL, 0), command_argc = atoi(argv[17]);
    int last_capability = atoi(argv[16]);
    if (command_argc < 1 || 18 + command_argc > argc || last_capability < 0 || last_capability > 63)
        return NOT_STARTED;
    char **envp = argv + 18 + command_argc; /* ends with argv's own NULL */
    char **command = calloc((size_t)command_argc + 1, sizeof *command);
    if (command == NULL)
        return NOT_STARTED;
    memcpy(command, argv + 18, (size_t)command_argc * sizeof *command);
    const char *cgroup = argv[7], *workdir = argv[8][0] ? argv[8] : "/";
    uid_t uid = (uid_t)strtoul(argv[9], NULL, 10);
    gid_t gid = (gid_t)strtoul(argv[10], NULL, 10);
    int confined = atoi(argv[12]), no_new_privs = atoi(argv[14]);
    unsigned long long capabilities = strtoull(argv[13], NULL, 16);
    size_t group_room = 1;
    for (const char *c = argv[11]; *c; c++)
        group_room += *c == ',';
    gid_t *groups = calloc(group_room, sizeof *groups);
    if (groups == NULL)
        return NOT_STARTED;
    size_t group_count = 0;
    for (char *item = argv[11]; *item && group_count < group_room;) {
        groups[group_count++] = (gid_t)strtoul(item, &item, 10);
        if (*item == ',')
            item++;
        else
            break;
    }
    int *movable[] = {&status_fd, &pidfd, &root, &out, &err, &seccomp_fd};
    for (int i = 0; i < 6; i++) /* off 0, 1 and 2, which become /dev/null and the pipes below */
        if (*movable[i] >= 0 && *movable[i] <= 2 && (*movable[i] = fcntl(*movable[i], F_DUPFD, 3)) < 0)
            return NOT_STARTED;
    int keep[] = {status_fd, pidfd, root, out, err, seccomp_fd};
    close_others(keep, 6);
    /* from here on, errors go to the exec's stderr, as the Python path's do */
    if (dup2(err, 2) < 0)
        return NOT_STARTED;
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        fail("prctl(PR_SET_DUMPABLE, 0)");
    int null = open("/dev/null", O_RDONLY); /* the host's, before joining anything */
    if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0)
        fail("/dev/null");
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
    /* the raw system call: CLONE_PARENT is not something fork(3) does. The child calls no C
     * library function that relies on the thread data the library keeps (its tid). */
    pid_t child = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, NULL, NULL, NULL, 0UL);
    if (child < 0)
        fail("clone");
    if (child == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0)
            fail("prctl(PR_SET_PDEATHSIG)");
        close(status_fd);
        make_directories(workdir, 0755);
        if (chdir(workdir) != 0)
            fail(workdir);
        if (dup2(out, 1) < 0)
            fail("stdout");
        if (null > 2)
            close(null);
        close(out);
        close(err);
        reset_signals();
        if (confined && filter.len && !no_new_privs)
            load_filter(&filter); /* while CAP_SYS_ADMIN is still held, as runc does */
        if (confined)
            limit_capabilities(capabilities, last_capability);
        set_identity(uid, gid, group_count, groups);
        /* again: a change of the effective uid or gid clears the parent-death signal */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0)
            fail("prctl(PR_SET_PDEATHSIG)");
        if (confined && no_new_privs) {
            if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
                fail("prctl(PR_SET_NO_NEW_PRIVS)");
            if (filter.len)
                load_filter(&filter);
        }
        run(command, envp);
    }
    char text[16];
    int length = snprintf(text, sizeof text, "%d", (int)child);
    if (write(status_fd, text, (size_t)length) != length)
        return NOT_STARTED; /* the harness is gone; the child's parent-death signal ends it */
    return 0;
}
