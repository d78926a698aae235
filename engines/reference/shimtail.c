/* The tail of a reference-runtime shim: what is left of its job once pid 1 runs, in a process
 * of a few pages instead of a forked Python interpreter (about 1.8 MiB of PSS each: reference
 * counts written by the fork copy the pages it shares with the zygote).
 *
 * The Python shim (shim.py) sets up the container, then execve(2)s this program when it has no
 * published ports and no embedded DNS to serve; the pid stays the same, so pid 1 stays its child
 * and the pids file, the start time and pidfds the harness holds still name it. It then does what
 * shim.run_shim does after `_serve`, in the same order:
 *   waitpid(2) for pid 1; write exit.json atomically (write, rename(2)); write the exit code to
 *   the harness's pipe; close the mount namespace handles pid 1 lent (the container's mounts go);
 *   rmdir(2) the device cgroup (retrying EBUSY for 2 s) and its root's folder if empty, as
 *   devices.remove does; wait for EOF on
 *   the release pipe; delete a `run --rm` container's directory from the trash (nftw(3),
 *   never following a symbolic link or crossing a mount); exit with pid 1's code.
 *
 * usage: shimtail PID1 EXIT_JSON DONE_FD RELEASE_FD DEVICE_CGROUP TRASH_DIR [FD_TO_CLOSE...]
 * (empty strings for no device cgroup or no trash directory). Built by nativeshim.py with the
 * host's C compiler; without one the Python shim does all of this itself. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *walk) {
    (void)st;
    (void)walk;
    if (flag == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0; /* keep going: whatever is left, the reaper's sweep of the trash removes */
}

static void write_all(int fd, const char *text, size_t length) {
    while (length > 0) {
        ssize_t written = write(fd, text, length);
        if (written < 0 && errno == EINTR)
            continue;
        if (written <= 0)
            return;
        text += written;
        length -= (size_t)written;
    }
}

static void write_exit_record(const char *path, int code) {
    char tmp[4096], text[64];
    int length = snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid());
    if (length < 0 || (size_t)length >= sizeof tmp)
        return;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return; /* the container was removed meanwhile */
    length = snprintf(text, sizeof text, "{\"exit_code\": %d}", code);
    write_all(fd, text, (size_t)length);
    close(fd);
    if (rename(tmp, path) != 0)
        unlink(tmp);
}

static void remove_cgroup(const char *path) {
    const struct timespec pause = {0, 10 * 1000 * 1000};
    for (int tries = 0; path[0] && tries < 200; tries++) {
        if (rmdir(path) == 0)
            break;
        if (errno != EBUSY)
            return;
        nanosleep(&pause, NULL); /* its last processes are still exiting */
    }
    char parent[4096];
    const char *slash = strrchr(path, '/');
    if (slash && (size_t)(slash - path) < sizeof parent) {
        memcpy(parent, path, (size_t)(slash - path));
        parent[slash - path] = 0;
        rmdir(parent); /* the root's folder, once no other container's cgroup is in it */
    }
}

int main(int argc, char **argv) {
    if (argc < 7)
        return 125;
    pid_t pid = (pid_t)atoi(argv[1]);
    int done = atoi(argv[3]), release = atoi(argv[4]), status = 0, code = 255;
    signal(SIGPIPE, SIG_IGN); /* a detached container: nobody reads the exit code */
    pid_t waited;
    while ((waited = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
        ;
    if (waited == pid)
        code = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 255;
    write_exit_record(argv[2], code);
    char text[16];
    int length = snprintf(text, sizeof text, "%d", code);
    write_all(done, text, (size_t)length);
    close(done);
    for (int i = 7; i < argc; i++)
        close(atoi(argv[i])); /* the container's mounts go now, after the harness has its code */
    remove_cgroup(argv[5]);
    char byte;
    while (read(release, &byte, 1) < 0 && errno == EINTR)
        ;
    struct stat st;
    if (argv[6][0] && lstat(argv[6], &st) == 0 && S_ISDIR(st.st_mode))
        nftw(argv[6], remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
    return code & 0xFF;
}
