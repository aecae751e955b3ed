// pier-exec --runtime: Pier's own `runc create`, for the containers pierd can describe to it
// (included by pier_exec.c: it shares the plan reader and finalizeProcess, runc's last steps).
//
// The monitor runs it where it would run runc, with runc's command line:
//   pier-exec --runtime --root=ROOT create --bundle B --pid-file F [--console-socket S]
//             [--preserve-fds N] ID
// It reads B/runtime.plan (NUL-terminated "key=value" items, written by pierd from the OCI
// config: src/sys/runtime.ts, which hands anything it cannot express here to runc), creates
// the container, writes its pid to F and exits 0 while the container's init waits for its start
// on ROOT/ID/exec.fifo (runc's contract: whoever opens the fifo for reading lets it run), or
// writes why it failed on stderr and exits 1 (the monitor passes that on as runc's error).
//
// The order is runc's (libcontainer nsexec, init_linux, rootfs_linux, standard_init_linux):
// parent: state dir and fifo, cgroups (made, limits written), non-dumpable, clone into the new
//   namespaces (and the unified cgroup); the child's pid into the v1 hierarchies, its
//   oom_score_adj; "go".
// child (pid 1 of the new pid namespace): setsid, join namespace paths (net, ipc, uts), session
//   keyring, hostname, rootfs (/ made rslave, the rootfs bound on itself, the mounts in order,
//   /dev's nodes and links, pivot_root), console, readonly rootfs, umask, sysctls, readonly
//   and masked paths, rlimits, then finalizeProcess (no_new_privs, capabilities, user, PATH
//   lookup), the start signal (exec.fifo), execve.
// Every path of the config is resolved inside the rootfs (symlinks included: secureJoin below)
// and mounted through an O_PATH fd, so an image's symlinked /dev or /etc/hostname cannot make it
// mount anything outside its root.

#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <termios.h>
#include <sys/ioctl.h>
#include <linux/sched.h>
#include <net/if.h>

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef MS_REC
#define MS_REC 16384
#endif

#define MAX_RT_ITEMS 512

struct rtMount {
  char* dest;
  char* type;
  char* source;
  unsigned long flags;
  char* data;
  unsigned long prop[4];
  int nprop;
  bool file;  // the mount point is a file (a bind of a file)
};

struct rtDevice {
  char* path;
  mode_t mode;  // with S_IFCHR / S_IFBLK / S_IFIFO
  unsigned major, minor;
  uid_t uid;
  gid_t gid;
};

struct rtCgroup {
  char* root;  // the hierarchy's mount point
  char* rel;   // the container's cgroup in it
  bool v2;
};

struct rtPair {
  char* key;
  char* value;
};

static struct {
  const char* rootfs;
  bool readonlyRoot;
  unsigned long rootProp;
  const char* hostname;
  const char* domainname;
  unsigned long long cloneFlags;
  struct rtPair joinNs[4];  // type ("network", "ipc", "uts") and path
  int njoinNs;
  struct rtMount mounts[MAX_RT_ITEMS];
  int nmounts;
  struct rtDevice devices[MAX_RT_ITEMS];
  int ndevices;
  bool devSetup;
  struct rtCgroup cgroups[16];
  int ncgroups;
  struct rtPair cgWrites[64];
  int ncgWrites;
  struct rtPair sysctls[64];
  int nsysctls;
  const char* masked[64];
  int nmasked;
  const char* readonly[64];
  int nreadonly;
  bool hasUmask;
  mode_t umask;
  bool setHome;
} rt;

// ---- errors ------------------------------------------------------------------------------

// What a create that fails must take away (its cgroups, its start fifo), once it made them;
// the container's init, if there was one, is killed and reaped by then.
static void (*undoCreate)(void);

// The parent's errors: on stderr, which the monitor relays as the create error.
static __attribute__((noreturn)) void rtDie(const char* fmt, ...) {
  char msg[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (undoCreate) undoCreate();
  dprintf(2, "%s\n", msg);
  _exit(1);
}

// ---- the plan ----------------------------------------------------------------------------

// Splits v at tabs into at most n fields; returns how many.
static int splitTabs(char* v, char** f, int n) {
  int i = 0;
  f[i++] = v;
  for (char* p = v; *p && i < n; p++)
    if (*p == '\t') {
      *p = '\0';
      f[i++] = p + 1;
    }
  return i;
}

static bool runtimePlanItem(const char* k, char* v) {
  char* f[8];
  if (!strcmp(k, "rootfs")) rt.rootfs = v;
  else if (!strcmp(k, "readonlyroot")) rt.readonlyRoot = !strcmp(v, "1");
  else if (!strcmp(k, "rootprop")) rt.rootProp = strtoul(v, NULL, 10);
  else if (!strcmp(k, "hostname")) rt.hostname = v;
  else if (!strcmp(k, "domainname")) rt.domainname = v;
  else if (!strcmp(k, "clone")) rt.cloneFlags = strtoull(v, NULL, 16);
  else if (!strcmp(k, "homefromuser")) rt.setHome = !strcmp(v, "1");
  else if (!strcmp(k, "umask")) {
    rt.hasUmask = true;
    rt.umask = (mode_t)strtoul(v, NULL, 8);
  } else if (!strcmp(k, "joinns")) {
    if (rt.njoinNs >= 4 || splitTabs(v, f, 2) != 2) fallback("bad joinns");
    rt.joinNs[rt.njoinNs++] = (struct rtPair){f[0], f[1]};
  } else if (!strcmp(k, "mount")) {
    // dest, type, source, flags, data, propagation flags (comma-separated), "file"|"dir"
    if (rt.nmounts >= MAX_RT_ITEMS || splitTabs(v, f, 7) != 7) fallback("bad mount item");
    struct rtMount* m = &rt.mounts[rt.nmounts++];
    *m = (struct rtMount){.dest = f[0], .type = f[1], .source = f[2], .flags = strtoul(f[3], NULL, 10), .data = f[4], .file = !strcmp(f[6], "file")};
    for (char* p = f[5]; *p && m->nprop < 4;) {
      char* end;
      m->prop[m->nprop++] = strtoul(p, &end, 10);
      p = *end == ',' ? end + 1 : end;
      if (end == p && *p) fallback("bad mount propagation");
    }
  } else if (!strcmp(k, "device")) {
    // path, mode (with the file type bits), major, minor, uid, gid
    if (rt.ndevices >= MAX_RT_ITEMS || splitTabs(v, f, 6) != 6) fallback("bad device item");
    rt.devices[rt.ndevices++] = (struct rtDevice){f[0], (mode_t)strtoul(f[1], NULL, 10), (unsigned)strtoul(f[2], NULL, 10), (unsigned)strtoul(f[3], NULL, 10), (uid_t)strtoul(f[4], NULL, 10), (gid_t)strtoul(f[5], NULL, 10)};
  } else if (!strcmp(k, "devsetup")) rt.devSetup = !strcmp(v, "1");
  else if (!strcmp(k, "cgroupdir") || !strcmp(k, "cgroupdir2")) {
    if (rt.ncgroups >= 16 || splitTabs(v, f, 2) != 2) fallback("bad cgroup item");
    rt.cgroups[rt.ncgroups++] = (struct rtCgroup){f[0], f[1], k[9] == '2'};
  } else if (!strcmp(k, "cgwrite")) {
    if (rt.ncgWrites >= 64 || splitTabs(v, f, 2) != 2) fallback("bad cgwrite item");
    rt.cgWrites[rt.ncgWrites++] = (struct rtPair){f[0], f[1]};
  } else if (!strcmp(k, "sysctl")) {
    if (rt.nsysctls >= 64 || splitTabs(v, f, 2) != 2) fallback("bad sysctl item");
    rt.sysctls[rt.nsysctls++] = (struct rtPair){f[0], f[1]};
  } else if (!strcmp(k, "masked")) {
    if (rt.nmasked >= 64) fallback("too many masked paths");
    rt.masked[rt.nmasked++] = v;
  } else if (!strcmp(k, "readonlypath")) {
    if (rt.nreadonly >= 64) fallback("too many readonly paths");
    rt.readonly[rt.nreadonly++] = v;
  } else return false;
  return true;
}

// ---- paths inside the rootfs -------------------------------------------------------------

static int openat2In(int dirfd, const char* path, int flags, unsigned long long resolve) {
  struct open_how how = {.flags = (unsigned long long)(flags | O_CLOEXEC), .mode = 0, .resolve = resolve};
  int fd;
  do fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
  while (fd < 0 && errno == EAGAIN);
  return fd;
}

// runc's securejoin: `unsafe` as a path inside the root (rootFd) with every symlink met on the
// way resolved as if the root were "/", and ".." never above it. The result (in `out`, "/" or
// "/a/b") has no symlink in it as of now; callers open it with RESOLVE_NO_SYMLINKS, so one
// swapped in meanwhile makes them fail instead of leading out.
static int secureJoin(int rootFd, const char* unsafe, char* out, size_t outLen) {
  char rest[PATH_MAX * 2];
  char resolved[PATH_MAX] = "";
  if (snprintf(rest, sizeof(rest), "%s", unsafe) >= (int)sizeof(rest)) return ENAMETOOLONG;
  int links = 0;
  char* p = rest;
  while (*p) {
    while (*p == '/') p++;
    if (!*p) break;
    char* end = strchr(p, '/');
    size_t cl = end ? (size_t)(end - p) : strlen(p);
    char comp[NAME_MAX + 1];
    if (cl > NAME_MAX) return ENAMETOOLONG;
    memcpy(comp, p, cl);
    comp[cl] = '\0';
    p += cl;
    if (!strcmp(comp, ".")) continue;
    if (!strcmp(comp, "..")) {
      char* slash = strrchr(resolved, '/');
      if (slash) *slash = '\0';
      continue;
    }
    // Is resolved/comp a symlink? Looked at from its parent, opened without following any.
    int dir = openat2In(rootFd, resolved[0] ? resolved + 1 : ".", O_PATH | O_DIRECTORY, RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
    // A parent that is not there yet holds no symlink: the rest is taken as it is.
    if (dir < 0 && errno != ENOENT) return errno;
    char target[PATH_MAX];
    ssize_t tl = dir < 0 ? -1 : readlinkat(dir, comp, target, sizeof(target) - 1);
    int e = dir < 0 ? ENOENT : errno;
    if (dir >= 0) close(dir);
    if (tl < 0) {
      if (e != EINVAL && e != ENOENT && e != ENOTDIR) return e;
      // Not a symlink (or not there yet): take it as it is.
      size_t rl = strlen(resolved);
      if (rl + 1 + cl >= sizeof(resolved)) return ENAMETOOLONG;
      resolved[rl] = '/';
      memcpy(resolved + rl + 1, comp, cl + 1);
      continue;
    }
    if (++links > 255) return ELOOP;
    target[tl] = '\0';
    // The link's target replaces it; an absolute one starts again from the root.
    char next[PATH_MAX * 2];
    if (snprintf(next, sizeof(next), "%s/%s", target, p) >= (int)sizeof(next)) return ENAMETOOLONG;
    if (target[0] == '/') resolved[0] = '\0';
    memcpy(rest, next, strlen(next) + 1);
    p = rest;
  }
  if (snprintf(out, outLen, "%s", resolved[0] ? resolved : "/") >= (int)outLen) return ENAMETOOLONG;
  return 0;
}

// Opens (O_PATH) the path inside the root, making it first if it is missing: directories all
// the way, and a file last when `file`. No symlink is followed: secureJoin resolved them.
static int openInRoot(int rootFd, const char* unsafe, bool create, bool file) {
  const unsigned long long res = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  // Most paths are there already and hold no symlink: one call, which refuses any symlink and
  // keeps ".." inside the root. The rest (a link to resolve, a path to make) is walked.
  const char* rel = unsafe;
  while (*rel == '/') rel++;
  int direct = openat2In(rootFd, *rel ? rel : ".", O_PATH, res);
  if (direct >= 0 || (errno != ELOOP && errno != ENOENT)) return direct;
  char path[PATH_MAX];
  int e = secureJoin(rootFd, unsafe, path, sizeof(path));
  if (e) {
    errno = e;
    return -1;
  }
  int fd = openat2In(rootFd, path[1] ? path + 1 : ".", O_PATH, res);
  if (fd >= 0 || errno != ENOENT || !create) return fd;
  int dir = openat2In(rootFd, ".", O_PATH | O_DIRECTORY, res);
  for (char* p = path + 1; dir >= 0 && *p;) {
    char* end = strchr(p, '/');
    bool last = !end;
    if (end) *end = '\0';
    if (last && file) {
      // O_EXCL: a file that appeared meanwhile (a fifo, a device) is never opened.
      int f = openat2In(dir, p, O_CREAT | O_EXCL | O_WRONLY, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
      if (f < 0 && errno != EEXIST) {
        e = errno;
        close(dir);
        errno = e;
        return -1;
      }
      if (f >= 0) {
        fchmod(f, 0755);
        close(f);
      }
    } else if (mkdirat(dir, p, 0755) != 0 && errno != EEXIST) {
      e = errno;
      close(dir);
      errno = e;
      return -1;
    }
    int next = openat2In(dir, p, O_PATH, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
    e = errno;
    close(dir);
    errno = e;
    dir = next;
    p = last ? p + strlen(p) : end + 1;
  }
  return dir;
}

static void fdPath(int fd, char* buf, size_t len) { snprintf(buf, len, "/proc/self/fd/%d", fd); }

// ---- the child's steps -------------------------------------------------------------------

static int rootFd = -1;

static bool isBind(const struct rtMount* m) { return !strcmp(m->type, "bind"); }

// runc refuses a procfs or sysfs whose mount point is not a plain directory of the image
// (mountToRootfs: "must be mounted on ordinary directory"). Reached through a symlink of the
// image, it would be mounted where the link led at this moment, while every later "/proc/..."
// or "/sys/..." of the config (masked and read-only paths, sysctls: resolved after pivot_root)
// may lead elsewhere once a later mount covers the link, e.g. a volume: the container would
// get a procfs with nothing masked and /proc/sys writable. Stricter than runc's lstat of the
// last component: no symlink anywhere on the way.
static void requirePlainDirectory(const struct rtMount* m) {
  if (strcmp(m->type, "proc") && strcmp(m->type, "sysfs")) return;
  int fd = openat2In(rootFd, m->dest[1] ? m->dest + 1 : ".", O_PATH, RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
  if (fd < 0 && errno == ENOENT) return;  // made below, as directories, none a symlink
  struct stat st;
  bool plain = fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
  int e = errno;
  if (fd >= 0) close(fd);
  if (!plain && fd < 0 && e != ELOOP) childFail("error during container init: error mounting \"%s\" to rootfs at \"%s\": %s", m->source, m->dest, goErr(e));
  if (!plain) childFail("error during container init: error mounting \"%s\" to rootfs at \"%s\": filesystem \"%s\" must be mounted on ordinary directory", m->source, m->dest, m->type);
}

// runc's checkProcMount: nothing but proc is mounted on /proc or inside it. pierd hands such
// configs to runc, so here the mount point got there through a symlink of the image (a volume
// on "/data" -> "/proc/sys" would hide the real /proc/sys, its read-only bind and sysctls).
static void refuseInsideProc(const struct rtMount* m) {
  if (!strcmp(m->type, "proc")) return;
  char resolved[PATH_MAX];
  int e = secureJoin(rootFd, m->dest, resolved, sizeof(resolved));
  if (e) childFail("error during container init: error mounting \"%s\" to rootfs at \"%s\": %s", m->source, m->dest, goErr(e));
  if (!strcmp(resolved, "/proc") || !strncmp(resolved, "/proc/", 6))
    childFail("error during container init: \"%s%s\" cannot be mounted because it is inside /proc", rt.rootfs, resolved);
}

// The mount an fd is on (its /proc/self/fdinfo's mnt_id), or -1.
static long mountIdOf(int fd) {
  char p[64], buf[512];
  snprintf(p, sizeof(p), "/proc/self/fdinfo/%d", fd);
  int f = open(p, O_RDONLY | O_CLOEXEC);
  ssize_t n = f >= 0 ? read(f, buf, sizeof(buf) - 1) : -1;
  if (f >= 0) close(f);
  if (n <= 0) return -1;
  buf[n] = '\0';
  char* id = strstr(buf, "mnt_id:");
  return id ? strtol(id + 7, NULL, 10) : -1;
}

// The mount just made on `under` (the mount point's fd), opened again by its path for the
// steps that need the mount itself (the read-only remount, propagation). The path is resolved
// a second time: if it was swapped meanwhile (a volume shared with another container), it
// could lead to another mount of the container, which would get the flags instead while this
// one stays writable. So it must be a mount other than the mount point's, and for a bind, of
// the very directory or file that was bound (`source`).
static int reopenMounted(const struct rtMount* m, int under, const struct stat* source) {
  int again = openInRoot(rootFd, m->dest, false, false);
  if (again < 0) childFail("error mounting \"%s\" to rootfs at \"%s\": %s", m->source, m->dest, goErr(errno));
  struct stat st;
  long was = mountIdOf(under), now = mountIdOf(again);
  bool same = was >= 0 && now >= 0 && was != now && fstat(again, &st) == 0 && (!source || (st.st_dev == source->st_dev && st.st_ino == source->st_ino));
  if (!same) childFail("error mounting \"%s\" to rootfs at \"%s\": the mount point changed while it was mounted", m->source, m->dest);
  return again;
}

// One mount of the config, as runc's mountToRootfs does it for the kinds pierd emits.
static void mountOne(const struct rtMount* m) {
  requirePlainDirectory(m);
  refuseInsideProc(m);
  // The mount point as it is, else made (which one tells a tmpfs its mode, below).
  int fd = openInRoot(rootFd, m->dest, false, m->file);
  bool existed = fd >= 0;
  if (fd < 0 && errno == ENOENT) fd = openInRoot(rootFd, m->dest, true, m->file);
  if (fd < 0) childFail("error mounting \"%s\" to rootfs at \"%s\": mkdir %s: %s", m->source, m->dest, m->dest, goErr(errno));
  // A tmpfs on a directory of the image takes that directory's mode unless the options give
  // one (runc since 1.1.8 prepends it; before, it chmod'ed the tmpfs): an image's 0700 /root
  // must not become the tmpfs default, 1777, writable by every user of the container.
  char data[4096 + 16];
  const char* mountData = m->data;
  struct stat under;
  if (!strcmp(m->type, "tmpfs") && existed && fstat(fd, &under) == 0 && S_ISDIR(under.st_mode)) {
    if (snprintf(data, sizeof(data), "mode=%o%s%s", (unsigned)(under.st_mode & 07777), m->data[0] ? "," : "", m->data) >= (int)sizeof(data))
      childFail("error mounting \"%s\" to rootfs at \"%s\": options too long", m->source, m->dest);
    mountData = data;
  }
  char target[64];
  fdPath(fd, target, sizeof(target));
  struct stat source;
  bool bind = isBind(m);
  if (bind) {
    // The source as it is bound: opened once (a host path), bound through its fd.
    int src = open(m->source, O_PATH | O_CLOEXEC);
    if (src < 0 || fstat(src, &source) != 0) childFail("error mounting \"%s\" to rootfs at \"%s\": %s", m->source, m->dest, goErr(errno));
    char from[64];
    fdPath(src, from, sizeof(from));
    if (mount(from, target, NULL, MS_BIND | (m->flags & MS_REC), NULL) != 0)
      childFail("error mounting \"%s\" to rootfs at \"%s\": %s", m->source, m->dest, goErr(errno));
    close(src);
    // Flags a bind mount cannot take at once (ro, nosuid, …): a remount of it, as runc does.
    unsigned long extra = m->flags & ~(unsigned long)(MS_REC | MS_REMOUNT | MS_BIND);
    if (extra) {
      // The mount point is now the bind mount's root: open it again to reach that mount.
      int again = reopenMounted(m, fd, &source);
      char t2[64];
      fdPath(again, t2, sizeof(t2));
      if (mount(m->source, t2, NULL, m->flags | MS_REMOUNT | MS_BIND, NULL) != 0)
        childFail("error remounting \"%s\" at \"%s\": %s", m->source, m->dest, goErr(errno));
      close(again);
    }
  } else {
    if (mount(m->source, target, m->type, m->flags, mountData[0] ? mountData : NULL) != 0)
      childFail("error mounting \"%s\" to rootfs at \"%s\": %s", m->source, m->dest, goErr(errno));
  }
  if (m->nprop) {
    int again = reopenMounted(m, fd, bind ? &source : NULL);
    char t2[64];
    fdPath(again, t2, sizeof(t2));
    for (int i = 0; i < m->nprop; i++)
      if (mount(NULL, t2, NULL, m->prop[i], NULL) != 0) childFail("change mount propagation of %s: %s", m->dest, goErr(errno));
    close(again);
  }
  close(fd);
}

static void makeDevice(const struct rtDevice* d) {
  const char* slash = strrchr(d->path, '/');
  char dirPath[PATH_MAX];
  snprintf(dirPath, sizeof(dirPath), "%.*s", (int)(slash - d->path), d->path);
  int dir = openInRoot(rootFd, dirPath[0] ? dirPath : "/", true, false);
  if (dir < 0) childFail("mkdir %s: %s", dirPath, goErr(errno));
  const char* name = slash + 1;
  if (mknodat(dir, name, d->mode, makedev(d->major, d->minor)) != 0) {
    if (errno != EEXIST) childFail("mknod %s: %s", d->path, goErr(errno));
  } else if (fchownat(dir, name, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) != 0) {
    childFail("chown %s: %s", d->path, goErr(errno));
  }
  close(dir);
}

// /dev as runc leaves it: fd, stdin, stdout, stderr links (core when the host has a kcore), and
// ptmx pointing at the container's own devpts instance.
static void setupDevLinks(void) {
  int dev = openInRoot(rootFd, "/dev", true, false);
  if (dev < 0) childFail("open /dev: %s", goErr(errno));
  static const char* links[][2] = {{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}};
  for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
    if (symlinkat(links[i][0], dev, links[i][1]) != 0 && errno != EEXIST) childFail("symlink %s: %s", links[i][1], goErr(errno));
  if (access("/proc/kcore", F_OK) == 0 && symlinkat("/proc/kcore", dev, "core") != 0 && errno != EEXIST) childFail("symlink core: %s", goErr(errno));
  if (unlinkat(dev, "ptmx", 0) != 0 && errno != ENOENT) childFail("remove /dev/ptmx: %s", goErr(errno));
  if (symlinkat("pts/ptmx", dev, "ptmx") != 0) childFail("symlink /dev/ptmx: %s", goErr(errno));
  close(dev);
}

// runc's pivotRoot: pivot_root(".", ".") from inside the new root, then the old root (stacked
// on top of it) is made a slave and lazily detached.
static void pivotRoot(void) {
  int oldRoot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (oldRoot < 0) childFail("open /: %s", goErr(errno));
  if (fchdir(rootFd) != 0) childFail("chdir to rootfs: %s", goErr(errno));
  if (syscall(SYS_pivot_root, ".", ".") != 0) childFail("pivot_root %s", goErr(errno));
  if (fchdir(oldRoot) != 0) childFail("fchdir old root: %s", goErr(errno));
  if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) != 0) childFail("make old root rslave: %s", goErr(errno));
  if (umount2(".", MNT_DETACH) != 0) childFail("unmount old root: %s", goErr(errno));
  if (chdir("/") != 0) childFail("chdir /: %s", goErr(errno));
  // Nothing of the host stays open in the container.
  close(oldRoot);
  close(rootFd);
  rootFd = -1;
}

// The terminal: a pty of the container's own devpts, its slave bound on /dev/console and made
// the process's stdio and controlling terminal; the master goes to the monitor (runc's
// setupConsole + mountConsole, after pivot_root).
// A pty of the container's devpts (through its /dev/ptmx): the master is sent to the monitor
// over consoleSock with the slave's name (runc's message), the slave becomes stdio.
static void sendPty(int consoleSock, char* slavePath, size_t slaveLen) {
  int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) childFail("open /dev/ptmx: %s", goErr(errno));
  int unlock = 0, n;
  if (ioctl(master, TIOCSPTLCK, &unlock) != 0 || ioctl(master, TIOCGPTN, &n) != 0) childFail("unlockpt: %s", goErr(errno));
  snprintf(slavePath, slaveLen, "/dev/pts/%d", n);
  int slave = open(slavePath, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) childFail("open %s: %s", slavePath, goErr(errno));
  // The slave is checked to be the pty's: its fd, not its path, is what the console bind
  // (setupConsole) and stdio get (/dev may lead into a volume another container changes).
  struct stat st;
  if (fstat(slave, &st) != 0 || !S_ISCHR(st.st_mode) || major(st.st_rdev) < 136 || major(st.st_rdev) > 143 || minor(st.st_rdev) != (unsigned)n)
    childFail("%s is not the pty's slave", slavePath);
  // runc sends the pty's name with it, as the message's data.
  struct msghdr msg = {0};
  struct iovec iov = {.iov_base = slavePath, .iov_len = strlen(slavePath)};
  char cbuf[CMSG_SPACE(sizeof(int))];
  memset(cbuf, 0, sizeof(cbuf));
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof(cbuf);
  struct cmsghdr* cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cm), &master, sizeof(int));
  if (sendmsg(consoleSock, &msg, 0) < 0) childFail("send the console to the monitor: %s", goErr(errno));
  close(master);
  close(consoleSock);
  for (int fd = 0; fd <= 2; fd++)
    if (dup2(slave, fd) < 0) childFail("dup2 console: %s", goErr(errno));
  close(slave);
}

static void setupConsole(int consoleSock) {
  char slavePath[64];
  sendPty(consoleSock, slavePath, sizeof(slavePath));
  // The bind goes from the slave's fd (stdin now, checked in sendPty) to /dev/console's, never
  // from the paths again: /dev may lead into a volume that another container changes
  // meanwhile, and a "pts/N" swapped for a link to /proc/sys/kernel/core_pattern would be bound
  // writable (the read-only /proc/sys comes later) on /dev/console (runc's CVE-2025-52565).
  // O_EXCL: one that is there (a fifo the image's /dev leads to) is never opened for writing,
  // which would wait for a reader for ever; it is checked below instead.
  int c = open("/dev/console", O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0666);
  if (c < 0 && errno != EEXIST) childFail("create /dev/console: %s", goErr(errno));
  if (c >= 0) close(c);
  int console = open("/dev/console", O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (console < 0) childFail("open /dev/console: %s", goErr(errno));
  struct stat st;
  if (fstat(console, &st) != 0 || (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode))) childFail("/dev/console is neither a file nor a device");
  char to[64];
  fdPath(console, to, sizeof(to));
  if (mount("/proc/self/fd/0", to, NULL, MS_BIND, NULL) != 0) childFail("bind %s on /dev/console: %s", slavePath, goErr(errno));
  close(console);
  if (ioctl(0, TIOCSCTTY, 0) != 0) childFail("ioctl TIOCSCTTY: %s", goErr(errno));
}

static void mkdirAll(const char* dir) {
  char p[PATH_MAX];
  if (snprintf(p, sizeof(p), "%s", dir) >= (int)sizeof(p)) childFail("cwd too long");
  for (char* c = p + 1;; c++) {
    if (*c != '/' && *c) continue;
    char saved = *c;
    *c = '\0';
    if (mkdir(p, 0755) != 0 && errno != EEXIST) childFail("mkdir %s: %s", p, goErr(errno));
    *c = saved;
    if (!saved) break;
  }
}

static void writeProcFile(const char* path, const char* value) {
  int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) childFail("open %s: %s", path, goErr(errno));
  size_t l = strlen(value);
  if (write(fd, value, l) != (ssize_t)l) childFail("write %s: %s", path, goErr(errno));
  close(fd);
}

// runc's readonlyPath: bound on itself, remounted read-only keeping its other flags.
static void readonlyPath(const char* p) {
  if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) != 0) {
    if (errno == ENOENT) return;
    childFail("readonly path %s: %s", p, goErr(errno));
  }
  struct statvfs sv;
  if (statvfs(p, &sv) != 0) childFail("statfs %s: %s", p, goErr(errno));
  unsigned long keep = sv.f_flag & (ST_NOSUID | ST_NODEV | ST_NOEXEC | ST_NOATIME | ST_NODIRATIME | ST_RELATIME);
  unsigned long flags = (keep & ST_NOSUID ? MS_NOSUID : 0) | (keep & ST_NODEV ? MS_NODEV : 0) | (keep & ST_NOEXEC ? MS_NOEXEC : 0) |
                        (keep & ST_NOATIME ? MS_NOATIME : 0) | (keep & ST_NODIRATIME ? MS_NODIRATIME : 0) | (keep & ST_RELATIME ? MS_RELATIME : 0);
  if (mount(p, p, NULL, flags | MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC, NULL) != 0) childFail("readonly path %s: %s", p, goErr(errno));
}

// The masks' source, opened once: "/dev/null" after pivot_root goes wherever the image's /dev
// leads, e.g. into a volume whose "null" links to another file, which every masked path would
// then become (runc checks it the same way since CVE-2025-31133). It must be the null device.
static int nullFd = -1;

static void openNullDevice(void) {
  if (nullFd >= 0) return;
  nullFd = open("/dev/null", O_PATH | O_CLOEXEC);
  if (nullFd < 0) childFail("open /dev/null: %s", goErr(errno));
  struct stat st;
  if (fstat(nullFd, &st) != 0) childFail("stat /dev/null: %s", goErr(errno));
  if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3)) childFail("/dev/null is not the null device: refusing to mask paths with it");
}

// runc's reOpenDevNull, after pivot_root: stdio that is the host's /dev/null (the monitor's
// stdin) becomes the container's. Left as it is, every process of the container inherits a file
// of the host's /dev, and root in the container could chmod or chown the host's null device
// through /proc/1/fd/0. The container's is opened as the masks' is (checked to be the null
// device), then again for reading and writing through its fd.
static void reopenDevNull(void) {
  int null = -1;
  for (int fd = 0; fd <= 2; fd++) {
    struct stat st;
    if (fstat(fd, &st) != 0) childFail("fstat fd %d: %s", fd, goErr(errno));
    if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3)) continue;
    if (null < 0) {
      openNullDevice();
      char p[64];
      fdPath(nullFd, p, sizeof(p));
      null = open(p, O_RDWR | O_CLOEXEC);
      if (null < 0) childFail("open /dev/null: %s", goErr(errno));
    }
    if (dup3(null, fd, 0) < 0) childFail("dup3 /dev/null on fd %d: %s", fd, goErr(errno));
  }
  if (null >= 0) close(null);
}

// runc's maskPath: /dev/null bound on a file, an empty read-only tmpfs on a directory.
static void maskPath(const char* p) {
  char null[64];
  fdPath(nullFd, null, sizeof(null));
  if (mount(null, p, NULL, MS_BIND, NULL) == 0) return;
  if (errno == ENOENT) return;
  if (errno == ENOTDIR) {
    if (mount("tmpfs", p, "tmpfs", MS_RDONLY, NULL) != 0) childFail("mask %s: %s", p, goErr(errno));
    return;
  }
  childFail("mask %s: %s", p, goErr(errno));
}

static void joinSessionKeyring(void) {
  if (!plan.keyring) return;
  long key = syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, plan.keyring);
  if (key < 0) {
    if (errno == ENOSYS) return;
    childFail("unable to join session keyring: %s", goErr(errno));
  }
  // runc's ModKeyringPerm(key, 0xffffffff, 0x080000): its possessor may set its attributes.
  char desc[512];
  long n = syscall(SYS_keyctl, 6 /* KEYCTL_DESCRIBE */, key, desc, sizeof(desc));
  if (n <= 0) childFail("unable to describe session keyring: %s", goErr(errno));
  desc[sizeof(desc) - 1] = '\0';
  char* semi = desc;
  for (int i = 0; i < 3 && semi; i++) semi = strchr(semi + 1, ';');
  if (!semi) childFail("unable to read the session keyring's permissions");
  unsigned long perm = strtoul(semi + 1, NULL, 16);
  if (syscall(SYS_keyctl, 5 /* KEYCTL_SETPERM */, key, perm | 0x080000) != 0) childFail("unable to mod keyring permissions: %s", goErr(errno));
}

// A new network namespace comes with its loopback down: runc brings it up (its "loopback"
// network), the rest is pierd's.
static void loopbackUp(void) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) childFail("socket: %s", goErr(errno));
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  strcpy(ifr.ifr_name, "lo");
  if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0) childFail("get lo flags: %s", goErr(errno));
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) childFail("bring lo up: %s", goErr(errno));
  close(s);
}

static int fifoFd = -1, syncFd = -1;

// The start: opening exec.fifo for writing blocks until pierd opens it for reading (its
// `runc start`); the byte tells it the process is about to exec.
static void waitForStart(void) {
  // The parent learns that create succeeded: one byte that no message starts with. An init
  // that died instead closes the pipe without it.
  if (write(syncFd, "\1", 1) != 1) childFail("tell the runtime the container is ready: %s", goErr(errno));
  close(syncFd);
  errFd = 2;
  char p[64];
  fdPath(fifoFd, p, sizeof(p));
  int fd;
  do fd = open(p, O_WRONLY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) childFail("open exec fifo: %s", goErr(errno));
  if (write(fd, "0", 1) != 1) childFail("write exec fifo: %s", goErr(errno));
  close(fd);
  close(fifoFd);
}

// The container's v1 `tasks` files (opened by the parent on the host): the init moves itself.
static int joinTasksFds[16], njoinTasks;

// Into every v1 hierarchy's cgroup by writing "0" (the writer itself) to its `tasks`: the
// kernel moves the current thread without cgroup_threadgroup_rwsem, whose write side costs an
// RCU grace period; the parent writing this pid took that lock (~10 ms a create at load 4,
// measured: the largest part of the runtime's time). The init is one thread here, so the whole
// process moves, before anything of the container's runs; the fds are closed at once.
static void joinOwnCgroups(void) {
  for (int i = 0; i < njoinTasks; i++) {
    ssize_t w;
    while ((w = write(joinTasksFds[i], "0", 1)) < 0 && errno == EINTR) {}
    if (w != 1) childFail("failed to join the container's cgroups: %s", goErr(errno));
    close(joinTasksFds[i]);
  }
  njoinTasks = 0;
}

static __attribute__((noreturn)) void containerInit(int goFd, int consoleSock, const int* nsFds) {
  errFd = syncFd;
  resetSignals();
  char go;
  ssize_t n;
  while ((n = read(goFd, &go, 1)) < 0 && errno == EINTR) {}
  if (n != 1) _exit(1);  // the parent gave up; it says why
  close(goFd);
  joinOwnCgroups();
  if (setsid() < 0) childFail("setsid: %s", goErr(errno));
  for (int i = 0; i < rt.njoinNs; i++) {
    if (setns(nsFds[i], 0) != 0) childFail("failed to join namespace %s: %s", rt.joinNs[i].value, goErr(errno));
    close(nsFds[i]);
  }
  if (rt.cloneFlags & CLONE_NEWNET) loopbackUp();
  joinSessionKeyring();
  if (rt.hostname && sethostname(rt.hostname, strlen(rt.hostname)) != 0) childFail("sethostname: %s", goErr(errno));
  if (rt.domainname && setdomainname(rt.domainname, strlen(rt.domainname)) != 0) childFail("setdomainname: %s", goErr(errno));

  // prepareRoot: nothing mounted in here propagates back to the host.
  if (mount(NULL, "/", NULL, rt.rootProp ? rt.rootProp : MS_SLAVE | MS_REC, NULL) != 0) childFail("make / rslave: %s", goErr(errno));
  if (mount(rt.rootfs, rt.rootfs, "bind", MS_BIND | MS_REC, NULL) != 0) childFail("bind mount the rootfs: %s", goErr(errno));
  rootFd = open(rt.rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootFd < 0) childFail("open rootfs: %s", goErr(errno));
  for (int i = 0; i < rt.nmounts; i++) mountOne(&rt.mounts[i]);
  if (rt.devSetup) {
    // Nodes get exactly the config's modes (runc clears the umask around them too).
    mode_t oldMask = umask(0);
    for (int i = 0; i < rt.ndevices; i++) makeDevice(&rt.devices[i]);
    umask(oldMask);
    setupDevLinks();
  }
  pivotRoot();
  reopenDevNull();
  // runc makes the process's cwd when the image lacks it (inside the new root: jailed).
  mkdirAll(plan.cwd);
  if (consoleSock >= 0) setupConsole(consoleSock);
  if (rt.readonlyRoot && mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) != 0) {
    // Keep the flags the kernel will not let us drop (runc retries the same way).
    struct statvfs sv;
    unsigned long fl = MS_BIND | MS_REMOUNT | MS_RDONLY;
    if (statvfs("/", &sv) == 0) fl |= (sv.f_flag & ST_NOSUID ? MS_NOSUID : 0) | (sv.f_flag & ST_NODEV ? MS_NODEV : 0) | (sv.f_flag & ST_NOEXEC ? MS_NOEXEC : 0);
    if (mount(NULL, "/", NULL, fl, NULL) != 0) childFail("remount / read-only: %s", goErr(errno));
  }
  umask(rt.hasUmask ? rt.umask : 022);
  for (int i = 0; i < rt.nsysctls; i++) {
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "/proc/sys/%s", rt.sysctls[i].key);
    for (char* c = p + 10; *c; c++)
      if (*c == '.') *c = '/';
    writeProcFile(p, rt.sysctls[i].value);
  }
  for (int i = 0; i < rt.nreadonly; i++) readonlyPath(rt.readonly[i]);
  if (rt.nmasked) openNullDevice();
  for (int i = 0; i < rt.nmasked; i++) maskPath(rt.masked[i]);
  if (nullFd >= 0) close(nullFd);
  for (int i = 0; i < plan.nrlimits; i++) {
    struct rlimit rl = {plan.rlimits[i].soft, plan.rlimits[i].hard};
    if (setrlimit(plan.rlimits[i].resource, &rl) != 0) childFail("error setting rlimit type %d: %s", plan.rlimits[i].resource, goErr(errno));
  }
  if (rt.setHome) setUserHome(true);
  beforeExec = waitForStart;
  finalizeProcess();
}

// ---- the parent --------------------------------------------------------------------------

static char stateDir[PATH_MAX];

// mkdir -p of the container's cgroup in one hierarchy. A new cpuset cgroup starts with no cpus
// and no memory nodes, and nothing can join it: each level made gets its parent's (runc's
// cpuset ensureParent).
static void makeCgroup(const struct rtCgroup* c) {
  char path[PATH_MAX];
  size_t rl = strlen(c->root);
  if (snprintf(path, sizeof(path), "%s%s", c->root, c->rel) >= (int)sizeof(path)) rtDie("cgroup path too long");
  for (char* p = path + rl + 1; ; p++) {
    if (*p != '/' && *p != '\0') continue;
    char saved = *p;
    *p = '\0';
    if (mkdir(path, 0755) == 0) {
      static const char* inherit[] = {"cpuset.cpus", "cpuset.mems"};
      for (int i = 0; i < 2 && !c->v2; i++) {
        char mine[PATH_MAX + 32], parent[PATH_MAX + 32], val[4096];
        snprintf(mine, sizeof(mine), "%s/%s", path, inherit[i]);
        if (access(mine, F_OK) != 0) break;  // not the cpuset hierarchy
        snprintf(parent, sizeof(parent), "%.*s/%s", (int)(strrchr(path, '/') - path), path, inherit[i]);
        int fd = open(parent, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, val, sizeof(val)) : -1;
        if (fd >= 0) close(fd);
        if (n < 0) rtDie("read %s: %s", parent, goErr(errno));
        fd = open(mine, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || (n > 0 && write(fd, val, (size_t)n) != n)) rtDie("write %s: %s", mine, goErr(errno));
        close(fd);
      }
    } else if (errno != EEXIST) {
      rtDie("mkdir %s: %s", path, goErr(errno));
    }
    *p = saved;
    if (!saved) break;
  }
}

static void writeCgroupFile(const char* file, const char* value) {
  int fd = open(file, O_WRONLY | O_CLOEXEC);
  size_t l = strlen(value);
  if (fd < 0 || write(fd, value, l) != (ssize_t)l) rtDie("failed to write %s to %s: %s", value, file, goErr(errno));
  close(fd);
}

static void removeCgroups(void) {
  for (int i = 0; i < rt.ncgroups; i++) {
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s%s", rt.cgroups[i].root, rt.cgroups[i].rel);
    rmdir(path);
  }
}

static void removeState(void) {
  char p[PATH_MAX + 16];
  snprintf(p, sizeof(p), "%s/exec.fifo", stateDir);
  unlink(p);
}

static void removeCreated(void) {
  removeCgroups();
  removeState();
}

// `exec -d`: a process in a running container of ours, the way the exec helper makes one
// (pier_exec.c's main: same plan, same namespace and cgroup joining, same finalizeProcess), but
// detached as `runc exec -d` leaves it: its stdio is the monitor's (or a pty of the container,
// whose master goes to the monitor), and once it exec'd, its pid is written and we exit; the
// monitor, a subreaper, reaps it. The plan is process.plan beside the process.json given.
static __attribute__((noreturn)) void runtimeExec(const char* process, const char* pidFile, int consoleSock) {
  char planPath[PATH_MAX];
  const char* slash = strrchr(process, '/');
  snprintf(planPath, sizeof(planPath), "%.*s/process.plan", slash ? (int)(slash - process) : 1, slash ? process : ".");
  planFd = open(planPath, O_RDONLY | O_CLOEXEC);
  if (planFd < 0) rtDie("open %s: %s", planPath, goErr(errno));
  readPlan(MODE_EXEC);
  close(planFd);
  readLastCap();
  int pidfd = pidfdOpen(plan.pid);
  if (pidfd < 0) rtDie("container is not running");
  verifyInit(pidfd);
  if (plan.seccompPath && !loadFilterFile(plan.seccompPath)) extractFilter();
  int ep[2], gop[2];
  if (pipe2(ep, O_CLOEXEC) != 0 || pipe2(gop, O_CLOEXEC) != 0) rtDie("pipe: %s", goErr(errno));
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) rtDie("prctl dumpable: %s", goErr(errno));
  // Opened on the host's side: from here on this process sees the container's files. (A file,
  // not a directory: nothing of the host's tree can be reached through it; the child closes it.)
  int pidFd = open(pidFile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (pidFd < 0) rtDie("open pid file %s: %s", pidFile, goErr(errno));
  enterContainerNamespaces(pidfd);
  if (setns(pidfd, CLONE_NEWPID) != 0) rtDie("setns pid: %s", goErr(errno));
  close(pidfd);
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) rtDie("fork: %s", goErr(errno));
  if (pid == 0) {
    close(pidFd);
    close(joinerIn);
    close(joinerOut);
    close(gop[1]);
    close(ep[0]);
    errFd = ep[1];
    if (consoleSock >= 0) {
      char slavePath[64];
      sendPty(consoleSock, slavePath, sizeof(slavePath));
      ttyExec = true;
    }
    child(gop[0]);
  }
  close(gop[0]);
  if (consoleSock >= 0) close(consoleSock);
  if (!moveIntoCgroups(pid, gop[1])) _exit(1);
  close(ep[1]);
  char msg[4096];
  if (execFailure(ep[0], msg, sizeof(msg)) > 0) {
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    rtDie("exec failed: unable to start container process: %s", msg);
  }
  // The monitor reads it once we have exited: one write is whole by then.
  char pidText[16];
  int pl = snprintf(pidText, sizeof(pidText), "%d", pid);
  if (write(pidFd, pidText, (size_t)pl) != pl || close(pidFd) != 0) rtDie("write pid file %s: %s", pidFile, goErr(errno));
  _exit(0);
}

// runc's sysctl validation for a network namespace it joins: net sysctls are the namespace's,
// and one that is the host's (--network container:X where X has the host's network) would have
// them written to the host's settings. pierd refuses them with --network host; a joined
// namespace is only known here, by its inode (the runtime runs in the host's, as runc).
static void refuseHostNetSysctls(int nsFd) {
  struct stat joined, host;
  if (fstat(nsFd, &joined) != 0 || stat("/proc/self/ns/net", &host) != 0) rtDie("runc create failed: invalid netns path: %s", goErr(errno));
  if (joined.st_dev != host.st_dev || joined.st_ino != host.st_ino) return;
  for (int i = 0; i < rt.nsysctls; i++)
    if (!strncmp(rt.sysctls[i].key, "net.", 4)) rtDie("runc create failed: sysctl \"%s\" not allowed in host network namespace", rt.sysctls[i].key);
}

static int connectConsole(const char* consolePath) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(consolePath) >= sizeof(sa.sun_path)) rtDie("console socket path too long");
  strcpy(sa.sun_path, consolePath);
  int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0 || connect(sock, (struct sockaddr*)&sa, sizeof(sa)) != 0) rtDie("connect to the console socket: %s", goErr(errno));
  return sock;
}

static bool validId(const char* id) {
  if (!*id || strlen(id) > 128) return false;
  for (const char* p = id; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.') return false;
  return strcmp(id, ".") && strcmp(id, "..");
}

static __attribute__((noreturn)) void runtimeMain(int argc, char** argv) {
  reexecFromMemfd(argv);
  signal(SIGPIPE, SIG_IGN);
  const char *root = NULL, *bundle = NULL, *pidFile = NULL, *consolePath = NULL, *id = NULL, *process = NULL;
  int preserve = 0;
  bool create = false, exec = false;
  for (int i = 2; i < argc; i++) {
    const char* a = argv[i];
    if (!strncmp(a, "--root=", 7)) root = a + 7;
    else if (!strcmp(a, "create") && !exec) create = true;
    else if (!strcmp(a, "exec") && !create) exec = true;
    else if (!strcmp(a, "-d") && exec) continue;
    else if (!strcmp(a, "--process") && exec && i + 1 < argc) process = argv[++i];
    else if (!strcmp(a, "--bundle") && i + 1 < argc) bundle = argv[++i];
    else if (!strcmp(a, "--pid-file") && i + 1 < argc) pidFile = argv[++i];
    else if (!strcmp(a, "--console-socket") && i + 1 < argc) consolePath = argv[++i];
    else if (!strcmp(a, "--preserve-fds") && i + 1 < argc) preserve = atoi(argv[++i]);
    else if (a[0] != '-' && (create || exec) && !id) id = a;
    else rtDie("pier runtime: unsupported argument %s", a);
  }
  if (exec) {
    if (!process || !pidFile || !id || !validId(id)) rtDie("pier runtime: usage: exec -d --pid-file FILE --process FILE [--console-socket PATH] ID");
    if (preserve) rtDie("pier runtime: exec takes no --preserve-fds");
    int consoleSock = -1;
    if (consolePath) consoleSock = connectConsole(consolePath);
    ctlFd = 2;
    runtimeExec(process, pidFile, consoleSock);
  }
  if (!create || !root || !bundle || !pidFile || !id) rtDie("pier runtime: usage: --root=DIR create --bundle DIR --pid-file FILE [--console-socket PATH] [--preserve-fds N] ID");
  if (!validId(id)) rtDie("invalid container id %s", id);
  if (preserve < 0 || preserve > 64) rtDie("bad --preserve-fds");
  firstCloexecFd = 3 + preserve;

  char planPath[PATH_MAX];
  snprintf(planPath, sizeof(planPath), "%s/runtime.plan", bundle);
  planFd = open(planPath, O_RDONLY | O_CLOEXEC);
  if (planFd < 0) rtDie("open %s: %s", planPath, goErr(errno));
  ctlFd = 2;  // a plan it cannot read is said on stderr ("fallback …")
  readPlan(MODE_RUNTIME);
  close(planFd);
  readLastCap();
  if (!rt.rootfs) rtDie("the plan names no rootfs");

  // The namespaces to join, opened once: what is checked below is what the init joins.
  int nsFds[4];
  for (int i = 0; i < rt.njoinNs; i++) {
    nsFds[i] = open(rt.joinNs[i].value, O_RDONLY | O_CLOEXEC);
    if (nsFds[i] < 0) rtDie("failed to open namespace %s: %s", rt.joinNs[i].value, goErr(errno));
    if (!strcmp(rt.joinNs[i].key, "network")) refuseHostNetSysctls(nsFds[i]);
  }

  // runc's state dir (made by pierd, with what its lifecycle needs) and the start fifo in it.
  if (snprintf(stateDir, sizeof(stateDir), "%s/%s", root, id) >= (int)sizeof(stateDir)) rtDie("state path too long");
  char fifoPath[PATH_MAX + 16];
  snprintf(fifoPath, sizeof(fifoPath), "%s/exec.fifo", stateDir);
  unlink(fifoPath);
  mode_t old = umask(0);
  if (mkfifo(fifoPath, 0622) != 0) rtDie("mkfifo %s: %s", fifoPath, goErr(errno));
  umask(old);
  // From here on a failure takes away what was made: the fifo, the cgroups (even half made,
  // or with a limit the kernel refused), as runc destroys a container whose create failed.
  undoCreate = removeCreated;
  fifoFd = open(fifoPath, O_PATH | O_CLOEXEC);
  if (fifoFd < 0) rtDie("open %s: %s", fifoPath, goErr(errno));

  int consoleSock = consolePath ? connectConsole(consolePath) : -1;
  // Cgroups: made and limited before the process is in them.
  int tasksFds[16], ntasks = 0, cgroup2Fd = -1;
  for (int i = 0; i < rt.ncgroups; i++) makeCgroup(&rt.cgroups[i]);
  for (int i = 0; i < rt.ncgWrites; i++) writeCgroupFile(rt.cgWrites[i].key, rt.cgWrites[i].value);
  for (int i = 0; i < rt.ncgroups; i++) {
    char p[PATH_MAX + 16];
    if (rt.cgroups[i].v2) {
      snprintf(p, sizeof(p), "%s%s", rt.cgroups[i].root, rt.cgroups[i].rel);
      cgroup2Fd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (cgroup2Fd < 0) rtDie("open %s: %s", p, goErr(errno));
    } else {
      // "tasks": the one-threaded init moves itself in through it (joinOwnCgroups).
      snprintf(p, sizeof(p), "%s%s/tasks", rt.cgroups[i].root, rt.cgroups[i].rel);
      tasksFds[ntasks] = open(p, O_WRONLY | O_CLOEXEC);
      if (tasksFds[ntasks++] < 0) rtDie("open %s: %s", p, goErr(errno));
    }
  }

  int gop[2], syncp[2];
  if (pipe2(gop, O_CLOEXEC) != 0 || pipe2(syncp, O_CLOEXEC) != 0) rtDie("pipe: %s", goErr(errno));
  // The child holds more than the container's capabilities until its exec: like runc's init,
  // no process of the container may ptrace it or open its fds (the O_PATH fifo) meanwhile.
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) rtDie("prctl dumpable: %s", goErr(errno));
  struct clone_args ca = {.flags = rt.cloneFlags | (cgroup2Fd >= 0 ? CLONE_INTO_CGROUP : 0), .exit_signal = SIGCHLD, .cgroup = (unsigned long long)(cgroup2Fd >= 0 ? cgroup2Fd : 0)};
  fflush(NULL);
  pid_t pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
  if (pid < 0) rtDie("clone: %s", goErr(errno));
  if (pid == 0) {
    // Nothing of the host's cgroup tree or of the parent's ends stays open here, but the
    // `tasks` files the init writes itself into first (joinOwnCgroups) and closes.
    if (cgroup2Fd >= 0) close(cgroup2Fd);
    for (int i = 0; i < ntasks; i++) joinTasksFds[i] = tasksFds[i];
    njoinTasks = ntasks;
    close(gop[1]);
    close(syncp[0]);
    syncFd = syncp[1];
    containerInit(gop[0], consoleSock, nsFds);
  }
  close(gop[0]);
  close(syncp[1]);
  if (cgroup2Fd >= 0) close(cgroup2Fd);
  if (consoleSock >= 0) close(consoleSock);
  for (int i = 0; i < rt.njoinNs; i++) close(nsFds[i]);
  char pidText[16];
  int pl = snprintf(pidText, sizeof(pidText), "%d", pid);
  char why[4096] = "";
  for (int i = 0; i < ntasks; i++) close(tasksFds[i]);  // the init joins them itself
  if (!why[0] && plan.hasOom) {
    char p[64], v[16];
    snprintf(p, sizeof(p), "/proc/%d/oom_score_adj", pid);
    int n = snprintf(v, sizeof(v), "%d", plan.oom);
    int fd = open(p, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, v, (size_t)n) != n) snprintf(why, sizeof(why), "write oom_score_adj: %s", goErr(errno));
    if (fd >= 0) close(fd);
  }
  if (!why[0] && write(gop[1], "g", 1) != 1) snprintf(why, sizeof(why), "the container's init ended early");
  close(gop[1]);
  // Until the init waits for its start: "\1" says it does, anything else is why it failed.
  size_t wl = strlen(why);
  while (!wl) {
    ssize_t n = read(syncp[0], why, sizeof(why) - 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    wl = (size_t)n;
    why[wl] = '\0';
  }
  close(syncp[0]);
  int st;
  if (wl == 0) snprintf(why, sizeof(why), "the container's init ended before its start");
  else if (wl == 1 && why[0] == '\1') why[0] = '\0';
  if (why[0]) {
    kill(pid, SIGKILL);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    // runc's words, which Docker users (and pierd's exit codes: 126, 127) go by.
    rtDie("runc create failed: unable to start container process: %s", why);
  }
  // The pid file, whole or not at all.
  char tmp[PATH_MAX + 16];
  snprintf(tmp, sizeof(tmp), "%s.tmp", pidFile);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || write(fd, pidText, (size_t)pl) != pl || close(fd) != 0 || rename(tmp, pidFile) != 0) {
    kill(pid, SIGKILL);
    // Reaped first: its cgroups cannot be removed while it is in them.
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    rtDie("write pid file %s: %s", pidFile, goErr(errno));
  }
  _exit(0);
}
