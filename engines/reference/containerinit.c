/* seatrial-containerinit: a container's pid 1 up to the execve(2) of its command, in C.
 *
 * The Python pid 1 (containerinit.py) of a spare sandbox execs this program while it waits for
 * a container (zygote.py): its namespaces are made and its copy of the host's mounts is made
 * (rootfs.MountNamespace). The Python steps cost a start about 3.8 ms; these take about 1.5 ms,
 * most of it in the kernel (the overlay mount, the detach of the host's mounts).
 *
 * It does what containerinit.py does, step for step and in the same order:
 *   two messages on SOCK, in either order: the spec (below) with the harness's start-error pipe
 *   as its one fd, and "g" (GO) from the shim once the hostname and network are set; EOF
 *   before the spec: exit quietly;
 *   prctl(2) PR_SET_DUMPABLE 0 (an execve(2) makes a process dumpable again) before anything of
 *   the container's can see it (CVE-2019-5736); the device cgroup joined; the logs opened;
 *   setns(2) back to the host's netns for network host;
 *   the mount namespace made current (made again from HOST_MNT if poll(2) on HOST_MOUNTINFO says
 *   the host's mounts changed since the copy); the rootfs (rootfs.enter): overlayfs, the bind
 *   mounts (targets resolved in scope, as scope.resolve does), pivot_root(2), proc, sysfs, /dev,
 *   masked and read-only paths; the mount namespace lent to the shim (SCM_RIGHTS);
 *   containerinit.become: workdir, stdio, signals, fds, seccomp, capabilities, the user looked up
 *   in the container's /etc/passwd and /etc/group as identity.py does, credentials;
 *   GO awaited; the command looked up and execve(2)'d, HOME from the passwd entry unless the
 *   environment sets it.
 * A step that fails writes "container init: <what>: <why>" on the start-error pipe and exits 125;
 * a command that cannot start writes "exec failed <code>: <Docker's words>" and exits with
 * Docker's code (127 not found, 126 not executable); an execve(2) that fails after the look-up
 * says so on stderr and exits 1, as runc's init does.
 *
 * usage: containerinit SOCK_FD HOST_MNT_FD HOST_MOUNTINFO_FD HOST_NET_FD LAST_CAP
 * (-1 for an fd that is not there: without HOST_MNT_FD the mount namespace is made here.)
 *
 * The spec (containerinit.native_spec_message): "seatrial-init-1", then fields, each ended by
 * a NUL byte: container_dir, device_cgroup, namespaces, confined, mask_paths, no_new_privs,
 * capabilities (hexadecimal mask), workdir, user, overlay data, merged; a count of bind mounts
 * and source, target, read_only for each; a count of masked paths and the paths; a count of
 * read-only paths and the paths; argc and argv; envc and env; the seccomp filter's length in
 * bytes, the filter (struct sock_filter) taking the rest. */
#include "nativecommon.h"
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>

#define SETUP_FAILED 125
#define MESSAGE_ROOM (1 << 20)
#define MAGIC "seatrial-init-1"
#define MAX_SYMLINKS 255 /* Docker's and runc's bound on links followed in one resolution */

static int err_w = -1;

static void report(const char *text) {
    if (err_w >= 0)
        (void)!write(err_w, text, strlen(text));
}

static void fail_with(const char *what, int error) {
    char text[8192];
    snprintf(text, sizeof text, "container init: %s: %s", what, words(error));
    report(text);
    _exit(SETUP_FAILED);
}

static void fail(const char *what) {
    fail_with(what, errno);
}

static void refuse(const char *message) {
    char text[8192];
    snprintf(text, sizeof text, "container init: %s", message);
    report(text);
    _exit(SETUP_FAILED);
}

/* --- the spec --- */

struct cursor {
    char *at, *end;
};

static char *field(struct cursor *c) {
    char *start = c->at, *nul = memchr(c->at, 0, (size_t)(c->end - c->at));
    if (nul == NULL)
        refuse("a spec that ends early");
    c->at = nul + 1;
    return start;
}

static long number(struct cursor *c) {
    char *text = field(c), *rest;
    errno = 0;
    long value = strtol(text, &rest, 10);
    if (errno || *rest || rest == text || value < 0)
        refuse("a spec with a bad number");
    return value;
}

static char **strings(struct cursor *c, long *count) {
    *count = number(c);
    if (*count > (c->end - c->at))
        refuse("a spec with a bad count");
    char **items = calloc((size_t)*count + 1, sizeof *items);
    if (items == NULL)
        fail("calloc");
    for (long i = 0; i < *count; i++)
        items[i] = field(c);
    return items;
}

struct bind {
    char *source, *target;
    int read_only;
};

struct spec {
    char *container_dir, *device_cgroup, *workdir, *user, *overlay, *merged;
    long namespaces, confined, mask_paths, no_new_privs;
    unsigned long long capabilities;
    long bind_count, masked_count, readonly_count, argc, envc;
    struct bind *binds;
    char **masked, **readonly, **argv, **env;
    struct sock_fprog filter;
};

static void parse(char *message, size_t length, struct spec *s) {
    struct cursor c = {message, message + length};
    if (strcmp(field(&c), MAGIC) != 0)
        refuse("a spec of another version");
    s->container_dir = field(&c);
    s->device_cgroup = field(&c);
    s->namespaces = number(&c);
    s->confined = number(&c);
    s->mask_paths = number(&c);
    s->no_new_privs = number(&c);
    s->capabilities = strtoull(field(&c), NULL, 16);
    s->workdir = field(&c);
    s->user = field(&c);
    s->overlay = field(&c);
    s->merged = field(&c);
    s->bind_count = number(&c);
    if (s->bind_count > (c.end - c.at))
        refuse("a spec with a bad count");
    s->binds = calloc((size_t)s->bind_count + 1, sizeof *s->binds);
    if (s->binds == NULL)
        fail("calloc");
    for (long i = 0; i < s->bind_count; i++) {
        s->binds[i].source = field(&c);
        s->binds[i].target = field(&c);
        s->binds[i].read_only = (int)number(&c);
    }
    s->masked = strings(&c, &s->masked_count);
    s->readonly = strings(&c, &s->readonly_count);
    s->argv = strings(&c, &s->argc);
    s->env = strings(&c, &s->envc);
    long filter_length = number(&c);
    if (s->argc < 1 || filter_length != c.end - c.at || filter_length % (long)sizeof(struct sock_filter))
        refuse("a spec with a bad command or filter");
    s->filter.len = (unsigned short)(filter_length / (long)sizeof(struct sock_filter));
    s->filter.filter = filter_length ? (struct sock_filter *)c.at : NULL;
}

/* --- paths in scope (scope.py) --- */

/* a stack of path components, the next one last */
struct components {
    char **items;
    size_t count, room;
};

static void add(struct components *stack, char *item) {
    if (stack->count == stack->room) {
        stack->room = stack->room ? stack->room * 2 : 64;
        if (!(stack->items = realloc(stack->items, stack->room * sizeof *stack->items)))
            fail("realloc");
    }
    stack->items[stack->count++] = item;
}

/* push the components of path so that the first one comes off first */
static void push_components(struct components *pending, const char *path) {
    struct components parts = {0};
    char *copy = strdup(path), *save = NULL;
    if (!copy)
        fail("strdup");
    for (char *part = strtok_r(copy, "/", &save); part; part = strtok_r(NULL, "/", &save))
        add(&parts, part);
    while (parts.count)
        add(pending, parts.items[--parts.count]);
    free(parts.items);
}

/* The host path of path inside root, symlinks evaluated in scope (an absolute link restarts at
 * root) and ".." clamped at root; components that do not exist are kept as they are, so the
 * result may be created. As scope.resolve does. The result is allocated. */
static char *resolve_in_scope(const char *root, const char *path) {
    struct components pending = {0}, done = {0};
    char candidate[8192], target[4096];
    int links = 0;
    push_components(&pending, path);
    while (pending.count) {
        char *part = pending.items[--pending.count];
        if (strcmp(part, ".") == 0)
            continue;
        if (strcmp(part, "..") == 0) {
            if (done.count)
                done.count--;
            continue;
        }
        size_t used = (size_t)snprintf(candidate, sizeof candidate, "%s", root);
        for (size_t i = 0; i < done.count && used < sizeof candidate; i++)
            used += (size_t)snprintf(candidate + used, sizeof candidate - used, "/%s", done.items[i]);
        if (used + strlen(part) + 2 >= sizeof candidate)
            fail_with("a path in the container", ENAMETOOLONG);
        snprintf(candidate + used, sizeof candidate - used, "/%s", part);
        struct stat st;
        if (lstat(candidate, &st) != 0) {
            if (errno != ENOENT && errno != ENOTDIR)
                fail(candidate);
            add(&done, part); /* to be made; under a file, the caller's mkdir or open says ENOTDIR */
            continue;
        }
        if (!S_ISLNK(st.st_mode)) {
            add(&done, part);
            continue;
        }
        if (++links > MAX_SYMLINKS)
            fail_with(candidate, ELOOP);
        ssize_t length = readlink(candidate, target, sizeof target - 1);
        if (length < 0)
            fail(candidate);
        target[length] = 0;
        if (target[0] == '/')
            done.count = 0;
        push_components(&pending, target);
    }
    size_t total = strlen(root) + 1;
    for (size_t i = 0; i < done.count; i++)
        total += strlen(done.items[i]) + 1;
    char *result = malloc(total), *at = result;
    if (!result)
        fail("malloc");
    at += sprintf(at, "%s", root);
    for (size_t i = 0; i < done.count; i++)
        at += sprintf(at, "/%s", done.items[i]);
    return result;
}

/* --- the rootfs (rootfs.py) --- */

static void do_mount(const char *source, const char *target, const char *type, unsigned long flags, const char *data) {
    if (mount(source, target, type, flags, data) != 0) {
        char what[8400];
        snprintf(what, sizeof what, "mount %s on %s", source ? source : type, target);
        fail(what);
    }
}

static void bind_mount(const char *source, const char *target, int read_only) {
    do_mount(source, target, NULL, MS_BIND | MS_REC, NULL);
    if (read_only)
        do_mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL);
}

/* a mount point for a bind: a folder when the source is one, else an empty file (rootfs._ensure) */
static void ensure(const char *path, int like_dir) {
    struct stat st;
    if (lstat(path, &st) == 0)
        return;
    if (like_dir) {
        make_directories(path, 0777);
        return;
    }
    char *parent = strdup(path), *slash = parent ? strrchr(parent, '/') : NULL;
    if (slash && slash != parent) {
        *slash = 0;
        make_directories(parent, 0777);
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (fd < 0)
        fail(path);
    close(fd);
}

static void make_directories_in_scope(const char *root, const char *path) {
    char *host = resolve_in_scope(root, path);
    make_directories(host, 0755);
    struct stat st;
    if (stat(host, &st) != 0)
        fail(host);
    if (!S_ISDIR(st.st_mode))
        fail_with(host, EEXIST);
}

static void make_dev(void) {
    static const struct {
        const char *name;
        unsigned int major, minor;
    } devices[] = {{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};
    static const char *links[][2] = {
        {"ptmx", "pts/ptmx"},
        {"fd", "/proc/self/fd"},
        {"stdin", "/proc/self/fd/0"},
        {"stdout", "/proc/self/fd/1"},
        {"stderr", "/proc/self/fd/2"},
    };
    char path[64];
    do_mount("tmpfs", "/dev", "tmpfs", MS_NOSUID, "mode=755,size=65536k");
    for (size_t i = 0; i < sizeof devices / sizeof *devices; i++) {
        snprintf(path, sizeof path, "/dev/%s", devices[i].name);
        if (mknod(path, S_IFCHR | 0666, makedev(devices[i].major, devices[i].minor)) != 0 || chmod(path, 0666) != 0)
            fail(path);
    }
    if (mkdir("/dev/pts", 0777) != 0 || mkdir("/dev/shm", 0777) != 0)
        fail("mkdir in /dev");
    do_mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620");
    do_mount("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k");
    for (size_t i = 0; i < sizeof links / sizeof *links; i++) {
        snprintf(path, sizeof path, "/dev/%s", links[i][0]);
        if (symlink(links[i][1], path) != 0)
            fail(path);
    }
}

static void mask_and_protect(const struct spec *s) {
    struct stat st;
    for (long i = 0; i < s->masked_count; i++) {
        if (stat(s->masked[i], &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            do_mount("tmpfs", s->masked[i], "tmpfs", MS_RDONLY, NULL);
        else
            do_mount("/dev/null", s->masked[i], NULL, MS_BIND, NULL);
    }
    for (long i = 0; i < s->readonly_count; i++)
        if (stat(s->readonly[i], &st) == 0)
            bind_mount(s->readonly[i], s->readonly[i], 1);
}

/* umount2(2) of a tree ends with a wait for an RCU grace period (about 0.4 ms here) after the
 * mounts are gone from the namespace; a thread takes that wait while pid 1 mounts the rest */
struct detach {
    pthread_t thread;
    int error;
};

static void *detach_old_root(void *arg) {
    struct detach *d = arg;
    d->error = umount2(".", MNT_DETACH) == 0 ? 0 : errno; /* the cwd: the old root stacked on the new */
    return NULL;
}

static void enter(const struct spec *s) {
    do_mount("overlay", s->merged, "overlay", 0, s->overlay);
    for (long i = 0; i < s->bind_count; i++) {
        char *target = resolve_in_scope(s->merged, s->binds[i].target);
        struct stat st;
        ensure(target, stat(s->binds[i].source, &st) == 0 && S_ISDIR(st.st_mode));
        bind_mount(s->binds[i].source, target, s->binds[i].read_only);
    }
    make_directories_in_scope(s->merged, "proc");
    make_directories_in_scope(s->merged, "sys");
    make_directories_in_scope(s->merged, "dev");
    if (chdir(s->merged) != 0)
        fail(s->merged);
    if (syscall(SYS_pivot_root, ".", ".") != 0)
        fail("pivot_root");
    /* From here on, paths from "/" lead into the new root (the process's root is it; the old
     * one, stacked on it, is reached only from the cwd), so the mounts below need not wait.
     * Nothing runs in the container before the thread has ended and said so. */
    struct detach d = {0};
    if ((errno = pthread_create(&d.thread, NULL, detach_old_root, &d)) != 0)
        fail("pthread_create");
    do_mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    do_mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | (s->confined ? MS_RDONLY : 0), NULL);
    make_dev();
    if (s->confined && s->mask_paths)
        mask_and_protect(s);
    if ((errno = pthread_join(d.thread, NULL)) != 0)
        fail("pthread_join");
    if (d.error)
        fail_with("umount2 of the old root", d.error);
    if (chdir("/") != 0)
        fail("chdir /");
}

/* --- the user (identity.py) --- */

#define ACCOUNT_FILE_LIMIT (4 << 20) /* identity.ACCOUNT_FILE_LIMIT */

/* the text of a file of /etc, or "" when it is missing; only a regular file of at most
 * ACCOUNT_FILE_LIMIT bytes is read (a link to /dev/zero would never end, a FIFO never begin),
 * as identity.checked_text does for the Python pid 1 */
static char *etc_text(const char *path) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return "";
        fail(path);
    }
    struct stat st;
    if (fstat(fd, &st) != 0)
        fail(path);
    if (!S_ISREG(st.st_mode) || st.st_size > ACCOUNT_FILE_LIMIT) {
        char text[4200];
        snprintf(text, sizeof text, "%s is not a regular file of at most %d bytes", path, ACCOUNT_FILE_LIMIT);
        refuse(text);
    }
    size_t room = 65536, used = 0;
    char *text = malloc(room);
    while (text) {
        if (used + 1 >= room && !(text = realloc(text, room *= 2)))
            break;
        ssize_t got = read(fd, text + used, room - used - 1);
        if (got < 0)
            fail(path);
        if (got == 0)
            break;
        used += (size_t)got;
    }
    if (!text)
        fail("malloc");
    text[used] = 0;
    close(fd);
    return text;
}

#define MAX_FIELDS 8

/* the next line of table with at least two colons, split at its colons (identity._table);
 * returns its field count, 0 at the end */
static int next_row(char **table, char *fields[MAX_FIELDS]) {
    while (*table) {
        char *line = *table, *end = strchr(line, '\n');
        if (end) {
            *end = 0;
            *table = end + 1;
        } else {
            *table = NULL;
        }
        int colons = 0;
        for (char *c = line; *c; c++)
            colons += *c == ':';
        if (colons < 2)
            continue;
        int count = 0;
        for (char *c = line;; c++) {
            if (count < MAX_FIELDS)
                fields[count] = c;
            count++;
            char *colon = strchr(c, ':');
            if (!colon)
                break;
            *colon = 0;
            c = colon;
        }
        return count;
    }
    return 0;
}

static int all_digits(const char *text) {
    if (!*text)
        return 0;
    for (; *text; text++)
        if (!isdigit((unsigned char)*text))
            return 0;
    return 1;
}

static unsigned long id_of(const char *text) {
    if (!all_digits(text))
        refuse("a passwd or group file with an id that is not a number");
    return strtoul(text, NULL, 10);
}

static int compare_gids(const void *a, const void *b) {
    gid_t x = *(const gid_t *)a, y = *(const gid_t *)b;
    return x < y ? -1 : x > y;
}

struct identity {
    unsigned long uid, gid;
    gid_t groups[65536];
    size_t group_count;
    char *home;
};

static void resolve_user(const char *user, struct identity *id) {
    char *name = strdup(user[0] ? user : "0"), *group = strchr(name, ':');
    if (group)
        *group++ = 0;
    char *passwd = etc_text("/etc/passwd"), *row[MAX_FIELDS], *login = "";
    int count, found = 0;
    while ((count = next_row(&passwd, row)) > 0)
        if (strcmp(row[0], name) == 0 || (all_digits(name) && strcmp(row[2], name) == 0)) {
            found = 1;
            break;
        }
    if (found) {
        if (count < 4)
            refuse("a passwd entry without a group");
        id->uid = id_of(row[2]);
        id->gid = id_of(row[3]);
        login = row[0];
        id->home = count > 5 ? row[5] : "";
    } else {
        if (!all_digits(name)) {
            char text[4200];
            snprintf(text, sizeof text, "unable to find user %s: no matching entries in passwd file", name);
            refuse(text);
        }
        id->uid = strtoul(name, NULL, 10);
        id->gid = 0;
        id->home = "/";
    }
    char *groups = etc_text("/etc/group");
    id->group_count = 0;
    if (group) {
        int matched = 0;
        while ((count = next_row(&groups, row)) > 0)
            if (strcmp(row[0], group) == 0 || strcmp(row[2], group) == 0) {
                id->gid = id_of(row[2]);
                matched = 1;
                break;
            }
        if (!matched) {
            if (!all_digits(group)) {
                char text[4200];
                snprintf(text, sizeof text, "unable to find group %s: no matching entries in group file", group);
                refuse(text);
            }
            id->gid = strtoul(group, NULL, 10);
        }
        id->groups[id->group_count++] = (gid_t)id->gid;
        return;
    }
    id->groups[id->group_count++] = (gid_t)id->gid;
    while ((count = next_row(&groups, row)) > 0 && id->group_count < 65536) {
        if (!login[0] || count < 4 || !all_digits(row[2]))
            continue;
        for (char *save = NULL, *member = strtok_r(row[3], ",", &save); member; member = strtok_r(NULL, ",", &save))
            if (strcmp(member, login) == 0) {
                id->groups[id->group_count++] = (gid_t)strtoul(row[2], NULL, 10);
                break;
            }
    }
    qsort(id->groups, id->group_count, sizeof *id->groups, compare_gids);
    size_t unique = 0;
    for (size_t i = 0; i < id->group_count; i++)
        if (unique == 0 || id->groups[unique - 1] != id->groups[i])
            id->groups[unique++] = id->groups[i];
    id->group_count = unique;
}

/* the command's environment: env as a dict holds it (a later entry of a key replaces the value
 * and keeps the first one's place), HOME from the passwd entry unless env sets it non-empty */
static char **environment(const struct spec *s, const char *home) {
    char **envp = calloc((size_t)s->envc + 2, sizeof *envp);
    size_t count = 0;
    int has_home = 0;
    if (!envp)
        fail("calloc");
    for (long i = 0; i < s->envc; i++) {
        size_t key = strcspn(s->env[i], "=");
        int seen = 0;
        for (long j = 0; j < i && !seen; j++)
            seen = strncmp(s->env[j], s->env[i], key + 1) == 0;
        if (seen)
            continue;
        const char *last = s->env[i];
        for (long j = i + 1; j < s->envc; j++)
            if (strncmp(s->env[j], s->env[i], key + 1) == 0)
                last = s->env[j];
        if (strncmp(last, "HOME=", 5) == 0 && last[5]) {
            has_home = 1;
        } else if (strncmp(last, "HOME=", 5) == 0) { /* an empty HOME: the passwd entry's, in place */
            char *value = malloc(strlen(home) + 6);
            if (!value)
                fail("malloc");
            sprintf(value, "HOME=%s", home);
            last = value;
            has_home = 1;
        }
        envp[count++] = (char *)last;
    }
    if (!has_home) {
        char *value = malloc(strlen(home) + 6);
        if (!value)
            fail("malloc");
        sprintf(value, "HOME=%s", home);
        envp[count++] = value;
    }
    return envp;
}

/* --- pid 1 --- */

/* one message from the harness or the shim: its length (0 at EOF), the fd it carries or -1 */
static ssize_t receive(int sock, char *buffer, size_t room, int *fd) {
    char control[CMSG_SPACE(sizeof(int))];
    struct iovec part = {buffer, room};
    struct msghdr message = {.msg_iov = &part, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    *fd = -1;
    ssize_t length;
    do
        length = recvmsg(sock, &message, MSG_CMSG_CLOEXEC);
    while (length < 0 && errno == EINTR);
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&message); c; c = CMSG_NXTHDR(&message, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)))
            memcpy(fd, CMSG_DATA(c), sizeof(int));
    return length;
}

static void lend_mount_namespace(int sock) {
    int namespace = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
    if (namespace < 0)
        fail("/proc/self/ns/mnt");
    char control[CMSG_SPACE(sizeof(int))] = {0};
    struct iovec part = {"m", 1};
    struct msghdr message = {.msg_iov = &part, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    struct cmsghdr *c = CMSG_FIRSTHDR(&message);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &namespace, sizeof(int));
    if (sendmsg(sock, &message, MSG_NOSIGNAL) != 1)
        fail("lending the mount namespace");
    close(namespace);
}

static void make_mount_namespace_current(int host_mnt, int host_mountinfo) {
    struct pollfd watch = {host_mountinfo, POLLPRI, 0};
    if (host_mnt >= 0 && host_mountinfo >= 0 && poll(&watch, 1, 0) == 0)
        goto done; /* the copy made ahead is current */
    if (host_mnt >= 0 && setns(host_mnt, CLONE_NEWNS) != 0)
        fail("setns to the host's mount namespace");
    if (unshare(CLONE_NEWNS) != 0)
        fail("unshare(CLONE_NEWNS)");
    do_mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL); /* nothing propagates back to the host */
done:
    if (host_mnt >= 0)
        close(host_mnt);
    if (host_mountinfo >= 0)
        close(host_mountinfo);
}

int main(int argc, char **argv) {
    if (argc != 6)
        return SETUP_FAILED;
    int sock = atoi(argv[1]), host_mnt = atoi(argv[2]), host_mountinfo = atoi(argv[3]), host_net = atoi(argv[4]);
    int last_capability = atoi(argv[5]);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); /* execve(2) made this process dumpable again */
    char *message = malloc(MESSAGE_ROOM);
    if (message == NULL)
        return SETUP_FAILED;
    ssize_t length;
    int go = 0;
    while (1) {
        length = receive(sock, message, MESSAGE_ROOM, &err_w);
        if (length == 1 && message[0] == 'g' && err_w < 0) {
            go = 1;
            continue;
        }
        break;
    }
    if (length <= 0 || err_w < 0)
        _exit(0); /* the shim, the zygote or the harness died before using this sandbox */
    struct spec s;
    parse(message, (size_t)length, &s);
    /* before anything of the container's can see this process, and in the device cgroup before
     * the rootfs exists */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        fail("prctl(PR_SET_DUMPABLE, 0)");
    if (s.device_cgroup[0]) {
        char tasks[4200];
        snprintf(tasks, sizeof tasks, "%s/tasks", s.device_cgroup);
        int fd = open(tasks, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, "0", 1) != 1)
            fail(tasks);
        close(fd);
    }
    int logs[2];
    for (int i = 0; i < 2; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", s.container_dir, i ? "stderr" : "stdout");
        if ((logs[i] = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640)) < 0)
            fail(path);
    }
    if (host_net >= 0) {
        if (!(s.namespaces & CLONE_NEWNET) && setns(host_net, CLONE_NEWNET) != 0)
            fail("setns to the host's network namespace");
        close(host_net);
    }
    make_mount_namespace_current(host_mnt, host_mountinfo);
    enter(&s);
    lend_mount_namespace(sock);
    /* containerinit.become */
    const char *workdir = s.workdir[0] ? s.workdir : "/";
    make_directories(workdir, 0777);
    if (chdir(workdir) != 0)
        fail(workdir);
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null < 0 || dup2(null, 0) < 0 || dup2(logs[0], 1) < 0 || dup2(logs[1], 2) < 0)
        fail("stdio");
    reset_signals();
    int keep[] = {err_w, sock};
    close_others(keep, 2);
    if (s.confined && s.filter.len && !s.no_new_privs)
        load_filter(&s.filter); /* while CAP_SYS_ADMIN is still held, as runc does */
    if (s.confined)
        limit_capabilities(s.capabilities, last_capability);
    static struct identity id; /* the user is looked up with the container's capabilities */
    resolve_user(s.user, &id);
    set_identity(id.uid, id.gid, id.group_count, id.groups);
    if (s.confined && s.no_new_privs) {
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
            fail("prctl(PR_SET_NO_NEW_PRIVS)");
        if (s.filter.len)
            load_filter(&s.filter);
    }
    if (!go) {
        int none;
        char word[16];
        if (receive(sock, word, sizeof word, &none) != 1 || word[0] != 'g')
            _exit(SETUP_FAILED); /* the shim died; it told the harness why */
    }
    close(sock);
    /* closed by a successful execve(2) itself, so that the harness's EOF means the command runs */
    char **envp = environment(&s, id.home);
    char text[8192];
    int code;
    const char *found = find_command(s.argv[0], envp, &code, text, sizeof text);
    if (found == NULL) {
        char line[8400];
        snprintf(line, sizeof line, "exec failed %d: %s", code, text);
        report(line);
        _exit(code);
    }
    syscall(SYS_execve, found, s.argv, envp);
    int error = errno;
    snprintf(text, sizeof text, "exec %s: %s\n", found, words(error));
    (void)!write(2, text, strlen(text));
    _exit(1);
}
