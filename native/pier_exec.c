// pier-exec: run one process inside a running container, the way `runc exec` does, in a few
// milliseconds instead of ~50 (runc starts the Go runtime twice and compiles the seccomp
// profile with libseccomp on every exec; here the container's own compiled filter is reused).
//
// pierd spawns it with fds 0-2 (the process's stdio: sockets from pierd, or /dev/null) and fd 3,
// a control socket. pierd writes the plan on fd 3 as NUL-terminated "key=value" strings ended
// by an empty string; the helper answers on fd 3 with lines:
//   "pid <host pid>"      the process was forked (before it execs)
//   "exec"                it exec'd the command: it runs
//   "error <message>"     setting up or exec'ing the process failed (it never ran)
//   "fallback <message>"  this container cannot be served here (pierd uses conmon + runc)
//   "exit <status>"       the process ended: its code, or 128+signal
//
// What it does, in runc's order (libcontainer setns_init + nsexec + finalizeNamespace):
// parent: verify the container's init by pidfd (its cgroup must be the container's), load the
// seccomp filter (cached in the bundle, first read from the init process with
// PTRACE_SECCOMP_GET_FILTER: the exact program runc installed), open the cgroup files and leave
// them to a joiner process that stays in the host's namespaces, oom_score_adj, setns(mnt, uts,
// ipc, net, cgroup) through the pidfd, setns(CLONE_NEWPID), fork; the joiner moves the child
// into the container's cgroups by its pid (no fd of the host ever reaches the child).
// child: session keyring, rlimits, no_new_privs, seccomp (before dropping capabilities
// unless no_new_privs), bounding set, stdio ownership, groups/gid/uid, cwd, capabilities,
// PATH lookup (Go's exec.LookPath rules and messages), execve.
// The parent relays stdio between pierd's sockets and real pipes (so /dev/stdin works in the
// container), waits for the process, drains what it wrote and reports its exit status.
//
// CVE-2019-5736: before anything else the helper re-executes itself from a sealed memfd, so a
// container process that reaches this binary through /proc/<pid>/exe cannot overwrite it.
//
// Two more modes, for container starts (see initMain and dumpFilterMain below):
//   pier-exec --dump-filter   copies the filter runc installed in a container's init to a file;
//   pier-exec --init          run by runc as a container's process: installs such a filter,
//                             finalizes the process as runc's init would, execs the command.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <unistd.h>

#define CTL_FD 3
// Where the plan is read and reports go: fd 3, or in --init mode the socket runc passed on as fd 4.
static int ctlFd = CTL_FD;
// --runtime: the plan is read from the bundle's file instead.
static int planFd = -1;
#define MAX_ITEMS 4096

#ifndef PTRACE_SECCOMP_GET_FILTER
#define PTRACE_SECCOMP_GET_FILTER 0x420c
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#endif

extern char** environ;

// ---- the plan ----------------------------------------------------------------------------

struct rlim {
  int resource;
  rlim_t soft, hard;
};

static struct {
  pid_t pid;
  const char* cgroupCheck;
  const char* cgroups[64];  // v1 hierarchies: the process writes itself into <dir>/tasks
  int ncgroups;
  const char* cgroup2;      // the unified hierarchy: the process is cloned into it
  const char* seccompPath;
  int seccompFd;            // --init: the compiled filter, passed on by runc (-1: none)
  unsigned seccompFlags;
  bool setHome;             // --init: HOME is runc's (it ran the shim as root): the user's instead
  bool nnp;
  uid_t uid;
  gid_t gid;
  gid_t groups[256];
  int ngroups;
  const char* cwd;
  char* args[MAX_ITEMS];
  int nargs;
  char* env[MAX_ITEMS];
  int nenv;
  uint64_t capb, cape, capp, capi, capa;
  struct rlim rlimits[32];
  int nrlimits;
  bool hasOom;
  int oom;
  const char* keyring;
} plan;

static int lastCap = 40;

// ---- reporting ---------------------------------------------------------------------------

static void writeAll(int fd, const char* buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    buf += n;
    len -= (size_t)n;
  }
}

static void report(const char* kind, const char* fmt, ...) {
  char msg[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  for (char* p = msg; *p; p++)
    if (*p == '\n') *p = ' ';
  char line[4200];
  int n = snprintf(line, sizeof(line), "%s %s\n", kind, msg);
  if (n > (int)sizeof(line) - 1) n = sizeof(line) - 1;
  writeAll(ctlFd, line, (size_t)n);
}

// Go's syscall.Errno strings are strerror with a lower-case first letter.
static const char* goErr(int err) {
  static char buf[256];
  snprintf(buf, sizeof(buf), "%s", strerror(err));
  buf[0] = (char)tolower((unsigned char)buf[0]);
  return buf;
}

static __attribute__((noreturn)) void fallback(const char* fmt, ...) {
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  report("fallback", "%s", msg);
  _exit(1);
}

// ---- self-protection ---------------------------------------------------------------------

static bool runningFromSealedMemfd(void) {
  int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  int seals = fcntl(fd, F_GET_SEALS);
  close(fd);
  return seals >= 0 && (seals & F_SEAL_WRITE) && (seals & F_SEAL_SEAL);
}

static void reexecFromMemfd(char** argv) {
  if (runningFromSealedMemfd()) return;
  int src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (src < 0) fallback("open /proc/self/exe: %s", goErr(errno));
  struct stat st;
  if (fstat(src, &st) != 0) fallback("fstat /proc/self/exe: %s", goErr(errno));
  int mfd = (int)syscall(SYS_memfd_create, "pier-exec", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (mfd < 0) fallback("memfd_create: %s", goErr(errno));
  off_t left = st.st_size;
  while (left > 0) {
    ssize_t n = sendfile(mfd, src, NULL, (size_t)left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fallback("copying the helper into a memfd: %s", goErr(errno));
    left -= n;
  }
  close(src);
  if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) != 0)
    fallback("sealing the memfd: %s", goErr(errno));
  syscall(SYS_execveat, mfd, "", argv, environ, AT_EMPTY_PATH);
  fallback("re-exec from memfd: %s", goErr(errno));
}

// ---- plan parsing ------------------------------------------------------------------------

static char* planBuf;

enum mode { MODE_EXEC, MODE_INIT, MODE_DUMP_FILTER, MODE_RUNTIME };

// --runtime's own plan items (pier_runtime.c); false for a key it does not know either.
static bool runtimePlanItem(const char* k, char* v);

static void readPlan(enum mode mode) {
  plan.seccompFd = -1;
  size_t cap = 1 << 16, len = 0;
  planBuf = malloc(cap);
  if (!planBuf) fallback("out of memory");
  for (;;) {
    if (len >= 2 && planBuf[len - 1] == '\0' && planBuf[len - 2] == '\0') break;
    if (len == 1 && planBuf[0] == '\0') break;
    if (len == cap) {
      cap *= 2;
      if (cap > (64u << 20)) fallback("plan too large");
      planBuf = realloc(planBuf, cap);
      if (!planBuf) fallback("out of memory");
    }
    ssize_t n = read(planFd >= 0 ? planFd : ctlFd, planBuf + len, cap - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fallback("reading the plan: %s", goErr(errno));
    if (n == 0) fallback("the plan ended early");
    len += (size_t)n;
  }
  for (size_t i = 0; i < len;) {
    char* item = planBuf + i;
    size_t l = strlen(item);
    i += l + 1;
    if (l == 0) break;
    char* eq = strchr(item, '=');
    if (!eq) fallback("bad plan item: %s", item);
    *eq = '\0';
    const char* k = item;
    char* v = eq + 1;
    if (!strcmp(k, "pid")) plan.pid = (pid_t)atoi(v);
    else if (!strcmp(k, "cgroupcheck")) plan.cgroupCheck = v;
    else if (!strcmp(k, "cgroup")) {
      if (plan.ncgroups >= 64) fallback("too many cgroups");
      plan.cgroups[plan.ncgroups++] = v;
    } else if (!strcmp(k, "cgroup2")) plan.cgroup2 = v; else if (!strcmp(k, "seccomp")) plan.seccompPath = v;
    else if (!strcmp(k, "seccompflags")) plan.seccompFlags = (unsigned)strtoul(v, NULL, 10);
    else if (!strcmp(k, "seccompfd")) plan.seccompFd = atoi(v);
    else if (!strcmp(k, "nnp")) plan.nnp = !strcmp(v, "1");
    else if (!strcmp(k, "sethome")) plan.setHome = !strcmp(v, "1");
    else if (!strcmp(k, "uid")) plan.uid = (uid_t)strtoul(v, NULL, 10);
    else if (!strcmp(k, "gid")) plan.gid = (gid_t)strtoul(v, NULL, 10);
    else if (!strcmp(k, "groups")) {
      for (char* p = v; *p;) {
        if (plan.ngroups >= 256) fallback("too many groups");
        char* end;
        plan.groups[plan.ngroups++] = (gid_t)strtoul(p, &end, 10);
        p = *end == ',' ? end + 1 : end;
        if (end == p && *p) fallback("bad groups: %s", v);
      }
    } else if (!strcmp(k, "cwd")) plan.cwd = v;
    else if (!strcmp(k, "arg")) {
      if (plan.nargs >= MAX_ITEMS - 1) fallback("too many arguments");
      plan.args[plan.nargs++] = v;
    } else if (!strcmp(k, "env")) {
      if (plan.nenv >= MAX_ITEMS - 1) fallback("too many environment variables");
      plan.env[plan.nenv++] = v;
    } else if (!strcmp(k, "capb")) plan.capb = strtoull(v, NULL, 16);
    else if (!strcmp(k, "cape")) plan.cape = strtoull(v, NULL, 16);
    else if (!strcmp(k, "capp")) plan.capp = strtoull(v, NULL, 16);
    else if (!strcmp(k, "capi")) plan.capi = strtoull(v, NULL, 16);
    else if (!strcmp(k, "capa")) plan.capa = strtoull(v, NULL, 16);
    else if (!strcmp(k, "rlimit")) {
      if (plan.nrlimits >= 32) fallback("too many rlimits");
      struct rlim* r = &plan.rlimits[plan.nrlimits++];
      char *a = v, *b, *c;
      r->resource = (int)strtol(a, &b, 10);
      if (*b != ':') fallback("bad rlimit: %s", v);
      r->soft = b[1] == 'u' ? RLIM_INFINITY : (rlim_t)strtoull(b + 1, &c, 10);
      c = strchr(b + 1, ':');
      if (!c) fallback("bad rlimit: %s", v);
      r->hard = c[1] == 'u' ? RLIM_INFINITY : (rlim_t)strtoull(c + 1, NULL, 10);
    } else if (!strcmp(k, "oom")) {
      plan.hasOom = true;
      plan.oom = atoi(v);
    } else if (!strcmp(k, "keyring")) plan.keyring = v;
    else if (mode != MODE_RUNTIME || !runtimePlanItem(k, v)) fallback("unknown plan item: %s", k);
  }
  plan.args[plan.nargs] = NULL;
  plan.env[plan.nenv] = NULL;
  bool complete = mode == MODE_INIT || mode == MODE_RUNTIME ? plan.nargs > 0 && plan.cwd
                  : mode == MODE_DUMP_FILTER ? plan.pid > 0 && plan.cgroupCheck && plan.seccompPath
                  : plan.pid > 0 && plan.nargs > 0 && plan.cwd && plan.cgroupCheck;
  if (!complete) fallback("incomplete plan");
}

// ---- the container's init ----------------------------------------------------------------

static int pidfdOpen(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

static void verifyInit(int pidfd) {
  char path[64], buf[8192];
  snprintf(path, sizeof(path), "/proc/%d/cgroup", plan.pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) fallback("container is not running");
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) fallback("container is not running");
  buf[n] = '\0';
  if (!strstr(buf, plan.cgroupCheck)) fallback("container is not running (pid %d is not its init)", plan.pid);
  // The pidfd still names the process we just checked: it did not end meanwhile.
  if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) != 0) fallback("container is not running");
  struct stat a, b;
  snprintf(path, sizeof(path), "/proc/%d/ns/user", plan.pid);
  if (stat("/proc/self/ns/user", &a) != 0 || stat(path, &b) != 0) fallback("cannot read user namespaces");
  if (a.st_ino != b.st_ino || a.st_dev != b.st_dev) fallback("containers with a user namespace are exec'd by runc");
}

// ---- seccomp -----------------------------------------------------------------------------

static struct sock_fprog seccompProg;

static bool loadFilterFd(int fd);

static bool loadFilterFile(const char* p) {
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  return loadFilterFd(fd);
}

// Reads the whole filter from fd (from its start) and closes fd.
static bool loadFilterFd(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size % sizeof(struct sock_filter) != 0 || st.st_size == 0 || st.st_size > (1 << 20)) {
    close(fd);
    return false;
  }
  struct sock_filter* f = malloc((size_t)st.st_size);
  ssize_t got = 0;
  while (f && got < st.st_size) {
    ssize_t n = pread(fd, (char*)f + got, (size_t)(st.st_size - got), got);
    if (n <= 0) break;
    got += n;
  }
  close(fd);
  if (!f || got != st.st_size) {
    free(f);
    return false;
  }
  seccompProg.filter = f;
  seccompProg.len = (unsigned short)(st.st_size / sizeof(struct sock_filter));
  return true;
}

// The filter runc installed in the container's init is the oldest one in its chain.
static void extractFilter(void) {
  if (ptrace(PTRACE_SEIZE, plan.pid, 0, 0) != 0) fallback("ptrace seize of the container's init: %s", goErr(errno));
  int status;
  if (ptrace(PTRACE_INTERRUPT, plan.pid, 0, 0) != 0 || waitpid(plan.pid, &status, __WALL) != plan.pid) {
    int e = errno;
    ptrace(PTRACE_DETACH, plan.pid, 0, 0);
    fallback("ptrace interrupt of the container's init: %s", goErr(e));
  }
  long idx = 0, n;
  while (ptrace(PTRACE_SECCOMP_GET_FILTER, plan.pid, (void*)(idx + 1), NULL) > 0) idx++;
  n = ptrace(PTRACE_SECCOMP_GET_FILTER, plan.pid, (void*)idx, NULL);
  struct sock_filter* f = NULL;
  if (n > 0) {
    f = calloc((size_t)n, sizeof(struct sock_filter));
    if (!f || ptrace(PTRACE_SECCOMP_GET_FILTER, plan.pid, (void*)idx, f) != n) {
      int e = errno;
      ptrace(PTRACE_DETACH, plan.pid, 0, 0);
      fallback("reading the container's seccomp filter: %s", goErr(e));
    }
  }
  int e = errno;
  ptrace(PTRACE_DETACH, plan.pid, 0, 0);
  if (n <= 0) fallback("the container's init has no seccomp filter: %s", goErr(e));
  seccompProg.filter = f;
  seccompProg.len = (unsigned short)n;
  // Cache it next to the container's bundle (written whole, then renamed).
  char tmp[PATH_MAX];
  snprintf(tmp, sizeof(tmp), "%s.%d.tmp", plan.seccompPath, getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd >= 0) {
    writeAll(fd, (const char*)f, (size_t)n * sizeof(struct sock_filter));
    if (fsync(fd) == 0 && close(fd) == 0) rename(tmp, plan.seccompPath);
    else unlink(tmp);
  }
}

static int installSeccomp(void) {
  if (!seccompProg.filter) return 0;
  if (plan.seccompFlags) return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, plan.seccompFlags, &seccompProg);
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &seccompProg, 0, 0);
}

// ---- the child ---------------------------------------------------------------------------

static int errFd = -1;  // to the parent; close-on-exec, so a successful exec closes it

static __attribute__((noreturn)) void childFail(const char* fmt, ...) {
  char msg[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  writeAll(errFd, msg, strlen(msg));
  _exit(127);
}

static const char* envGet(const char* name) {
  size_t l = strlen(name);
  for (int i = 0; i < plan.nenv; i++)
    if (!strncmp(plan.env[i], name, l) && plan.env[i][l] == '=') return plan.env[i] + l + 1;
  return NULL;
}

// 0, or an errno; Go's findExecutable: a non-directory with any execute bit.
static int findExecutable(const char* file) {
  struct stat st;
  if (stat(file, &st) != 0) return errno;
  if (!S_ISDIR(st.st_mode) && (st.st_mode & 0111)) return 0;
  return EACCES;
}

// Go's exec.LookPath, with its error messages (runc reports them as they are).
static const char* lookPath(const char* file) {
  static char found[PATH_MAX];
  if (strchr(file, '/')) {
    int e = findExecutable(file);
    if (e == 0) return file;
    if (e == EACCES) childFail("exec: \"%s\": permission denied", file);
    childFail("exec: \"%s\": stat %s: %s", file, file, goErr(e));
  }
  const char* path = envGet("PATH");
  if (path && *path) {
    const char* p = path;
    for (;;) {
      const char* end = strchr(p, ':');
      size_t dl = end ? (size_t)(end - p) : strlen(p);
      if (dl == 0) snprintf(found, sizeof(found), "./%s", file);
      else if (dl + strlen(file) + 2 <= sizeof(found)) snprintf(found, sizeof(found), "%.*s/%s", (int)dl, p, file);
      else found[0] = '\0';
      if (found[0] && findExecutable(found) == 0) {
        if (found[0] != '/') childFail("exec: \"%s\": cannot run executable found relative to current directory", file);
        return found;
      }
      if (!end) break;
      p = end + 1;
    }
  }
  childFail("exec: \"%s\": executable file not found in $PATH", file);
}

static void applyCaps(void) {
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof(data));
  for (int i = 0; i < 2; i++) {
    data[i].effective = (uint32_t)(plan.cape >> (32 * i));
    data[i].permitted = (uint32_t)(plan.capp >> (32 * i));
    data[i].inheritable = (uint32_t)(plan.capi >> (32 * i));
  }
  if (syscall(SYS_capset, &hdr, data) != 0) childFail("unable to apply caps: %s", goErr(errno));
  for (int c = 0; c <= lastCap && c < 64; c++)
    if ((plan.capa >> c) & 1)
      if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) != 0) childFail("unable to apply caps: ambient %d: %s", c, goErr(errno));
}

static void fixStdioPermissions(void) {
  struct stat null;
  if (stat("/dev/null", &null) != 0) childFail("stat /dev/null: %s", goErr(errno));
  for (int fd = 0; fd <= 2; fd++) {
    struct stat st;
    if (fstat(fd, &st) != 0) childFail("fstat stdio: %s", goErr(errno));
    if (st.st_uid == plan.uid || st.st_rdev == null.st_rdev) continue;
    // The null device itself, whoever's: a stdio pierd opened on the host's /dev/null is never
    // chowned because the container replaced its own /dev/null (rdev compared with the
    // container's alone, runc's check, would hand the host's device to the exec's user).
    if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3)) continue;
    if (fchown(fd, plan.uid, (gid_t)-1) != 0 && errno != EINVAL && errno != EPERM && errno != EROFS)
      childFail("fchown stdio: %s", goErr(errno));
  }
}

// Nothing of the helper's signal handling goes into the container.
static void resetSignals(void) {
  sigset_t all;
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, NULL);
  for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
}

static __attribute__((noreturn)) void finalizeProcess(void);

// --runtime: fds 3 .. firstCloexecFd-1 are the caller's, passed on to the process (runc's
// --preserve-fds); and the container waits for its start once its command was found.
static int firstCloexecFd = 3;
// --runtime exec with a console: the child's stdio is a pty, made its controlling terminal.
static bool ttyExec;
static void (*beforeExec)(void);

// What the parent opened on the host for its child before it entered the container's namespaces.
// The cgroup joiner: a process of ours left in the host's namespaces (never visible in the
// container) that holds the cgroup files and moves the child into them by its pid.
static pid_t joinerPid = -1;
static int joinerIn = -1, joinerOut = -1;  // we write the child's pid / it answers ("" = done)

// exec: the forked process is already in the container's namespaces (the parent joined them
// before forking: see main); the parent moves it into the container's cgroups (goFd says when
// it did), then it is finalized (runc's setns_init).
static __attribute__((noreturn)) void child(int goFd) {
  resetSignals();
  char go;
  ssize_t n;
  while ((n = read(goFd, &go, 1)) < 0 && errno == EINTR) {}
  if (n != 1) _exit(127);  // the parent reported why
  close(goFd);
  // A session (and process group) of its own: it must not share pierd's, or `kill 0` in the
  // container would reach pierd.
  if (setsid() < 0) childFail("setsid: %s", goErr(errno));
  if (ttyExec && ioctl(0, TIOCSCTTY, 0) != 0) childFail("ioctl TIOCSCTTY: %s", goErr(errno));
  if (plan.keyring) {
    // Do not inherit pierd's session keyring (runc: "_ses.<container id>").
    if (syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, plan.keyring) < 0 && errno != ENOSYS)
      childFail("unable to join session keyring: %s", goErr(errno));
  }
  for (int i = 0; i < plan.nrlimits; i++) {
    struct rlimit rl = {plan.rlimits[i].soft, plan.rlimits[i].hard};
    if (setrlimit(plan.rlimits[i].resource, &rl) != 0) childFail("error setting rlimit type %d: %s", plan.rlimits[i].resource, goErr(errno));
  }
  finalizeProcess();
}

// The parent, before it enters the container's pid namespace and forks: everything that needs
// the host's view (the cgroup files it moves the child with, its own oom_score_adj, which the
// child inherits), then the container's mount, uts, ipc, net and cgroup namespaces. From its
// fork on the child is visible in the container (/proc/<pid>): it must never be there with the
// host's file system or files in reach, which a process of the container allowed to ptrace it
// (CAP_SYS_PTRACE) could use — as runc, whose init is in all the container's namespaces before
// it enters its pid namespace and is moved into cgroups from outside.
static char oomBefore[16];  // the parent's oom_score_adj before it took the container's

static __attribute__((noreturn)) void joinerMain(const int* tasksFds, int procsFd, int in, int out) {
  char pidText[16] = {0};
  ssize_t n;
  while ((n = read(in, pidText, sizeof(pidText) - 1)) < 0 && errno == EINTR) {}
  if (n <= 0) _exit(1);  // the exec was given up
  size_t pl = strlen(pidText);
  char msg[PATH_MAX + 128] = "";
  // Joining through "cgroup.procs" takes the kernel's threadgroup rwsem for writing, which
  // waits for an RCU grace period (5-20 ms on a busy host). The child has one thread: writing it
  // to v1 "tasks" moves it without that lock.
  for (int i = 0; i < plan.ncgroups && !msg[0]; i++)
    if (write(tasksFds[i], pidText, pl) != (ssize_t)pl) snprintf(msg, sizeof(msg), "failed to join cgroup %s: %s", plan.cgroups[i], goErr(errno));
  if (!msg[0] && procsFd >= 0 && write(procsFd, pidText, pl) != (ssize_t)pl) snprintf(msg, sizeof(msg), "failed to join cgroup %s: %s", plan.cgroup2, goErr(errno));
  // The parent set its own oom_score_adj for the child to inherit; it gets its own back.
  if (plan.hasOom && oomBefore[0]) {
    char p[64];
    snprintf(p, sizeof(p), "/proc/%d/oom_score_adj", (int)getppid());
    int fd = open(p, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      writeAll(fd, oomBefore, strlen(oomBefore));
      close(fd);
    }
  }
  writeAll(out, msg, strlen(msg));
  _exit(0);
}

static void enterContainerNamespaces(int pidfd) {
  char cgpath[PATH_MAX];
  int tasksFds[64];
  int procsFd = -1;
  for (int i = 0; i < plan.ncgroups; i++) {
    snprintf(cgpath, sizeof(cgpath), "%s/tasks", plan.cgroups[i]);
    tasksFds[i] = open(cgpath, O_WRONLY | O_CLOEXEC);
    if (tasksFds[i] < 0) report("error", "failed to join cgroup %s: %s", plan.cgroups[i], goErr(errno)), exit(0);
  }
  if (plan.cgroup2) {
    snprintf(cgpath, sizeof(cgpath), "%s/cgroup.procs", plan.cgroup2);
    procsFd = open(cgpath, O_WRONLY | O_CLOEXEC);
    if (procsFd < 0) report("error", "failed to join cgroup %s: %s", plan.cgroup2, goErr(errno)), exit(0);
  }
  if (plan.hasOom) {
    char v[32];
    int fd = open("/proc/self/oom_score_adj", O_RDWR | O_CLOEXEC);
    ssize_t got = fd >= 0 ? pread(fd, oomBefore, sizeof(oomBefore) - 1, 0) : -1;
    oomBefore[got > 0 ? got : 0] = '\0';
    int n = snprintf(v, sizeof(v), "%d", plan.oom);
    if (fd < 0 || write(fd, v, (size_t)n) != n) report("error", "write oom_score_adj: %s", goErr(errno)), exit(0);
    close(fd);
  }
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) fallback("pipe: %s", goErr(errno));
  joinerPid = fork();
  if (joinerPid < 0) fallback("fork: %s", goErr(errno));
  if (joinerPid == 0) {
    close(in[1]);
    close(out[0]);
    joinerMain(tasksFds, procsFd, in[0], out[1]);
  }
  close(in[0]);
  close(out[1]);
  joinerIn = in[1];
  joinerOut = out[0];
  for (int i = 0; i < plan.ncgroups; i++) close(tasksFds[i]);
  if (procsFd >= 0) close(procsFd);
  if (setns(pidfd, CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP) != 0)
    fallback("failed to join the container's namespaces: %s", goErr(errno));
}

// What runc's init does last, in its order (standard_init + finalizeNamespace): no_new_privs,
// seccomp (before dropping capabilities unless no_new_privs), fds, cwd, bounding set, stdio
// ownership, groups/gid/uid, capabilities, PATH lookup, execve.
static __attribute__((noreturn)) void finalizeProcess(void) {
  if (plan.nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) childFail("set no_new_privs: %s", goErr(errno));
  if (!plan.nnp && installSeccomp() != 0) childFail("error loading seccomp filter: %s", goErr(errno));

  // finalizeNamespace: no fd but stdio reaches the process.
  if (syscall(SYS_close_range, firstCloexecFd, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    for (int fd = firstCloexecFd; fd < 1024; fd++) fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  bool chdirLater = false;
  if (chdir(plan.cwd) != 0) {
    if (errno != EACCES && errno != EPERM) childFail("chdir to cwd (\"%s\") set in config.json failed: %s", plan.cwd, goErr(errno));
    chdirLater = true;
  }
  for (int c = 0; c <= lastCap; c++)
    if (!((plan.capb >> c) & 1))
      if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EINVAL) childFail("unable to apply bounding set: %s", goErr(errno));
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) childFail("set keepcaps: %s", goErr(errno));
  fixStdioPermissions();
  if (setgroups((size_t)plan.ngroups, plan.groups) != 0) childFail("setgroups: %s", goErr(errno));
  if (setgid(plan.gid) != 0) childFail("setgid: %s", goErr(errno));
  if (setuid(plan.uid) != 0) childFail("setuid: %s", goErr(errno));
  if (chdirLater && chdir(plan.cwd) != 0) childFail("chdir to cwd (\"%s\") set in config.json failed: %s", plan.cwd, goErr(errno));
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) childFail("clear keepcaps: %s", goErr(errno));
  applyCaps();

  const char* name = lookPath(plan.args[0]);
  if (beforeExec) beforeExec();
  if (plan.nnp && installSeccomp() != 0) childFail("error loading seccomp filter: %s", goErr(errno));
  execve(name, plan.args, plan.env);
  // As runc's init: the command was found, so the process counts as started; a failing execve
  // (exec format error, a missing interpreter, a noexec mount) is said on its stderr and it
  // ends with status 1 — the container ran and exited, the exec ran and failed.
  int e = errno;
  dprintf(2, "exec %s: %s\n", name, goErr(e));
  _exit(1);
}

// ---- the parent: stdio relay -------------------------------------------------------------

struct relay {
  int src, dst;
  char buf[65536];
  size_t len, off;
  bool srcDone, active;
};

static void setNonblock(int fd, bool on) {
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

static bool isSocket(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

static void relayClose(struct relay* r, bool input) {
  if (!r->active) return;
  r->active = false;
  if (r->src >= 0 && !input) close(r->src);
  if (input) {
    // stdin: pierd's socket stays; the process sees EOF on its pipe.
    close(r->dst);
  } else {
    // output: pierd sees EOF on this stream.
    shutdown(r->dst, SHUT_WR);
    close(r->dst);
  }
}

// Move what is there without waiting for more; false when nothing more can move.
static bool relayStep(struct relay* r, bool input) {
  if (!r->active) return false;
  bool moved = false;
  if (r->len == 0 && !r->srcDone) {
    ssize_t n = read(r->src, r->buf, sizeof(r->buf));
    if (n > 0) {
      r->len = (size_t)n;
      r->off = 0;
      moved = true;
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      r->srcDone = true;
    }
  }
  if (r->len > 0) {
    ssize_t n = write(r->dst, r->buf + r->off, r->len);
    if (n > 0) {
      r->off += (size_t)n;
      r->len -= (size_t)n;
      moved = true;
    } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
      // The reader is gone: stop this stream (the process gets EPIPE on its next write).
      r->len = 0;
      relayClose(r, input);
      return false;
    }
  }
  if (r->srcDone && r->len == 0) {
    relayClose(r, input);
    return false;
  }
  return moved;
}

static void readLastCap(void) {
  FILE* f = fopen("/proc/sys/kernel/cap_last_cap", "re");
  if (f) {
    if (fscanf(f, "%d", &lastCap) != 1) lastCap = 40;
    fclose(f);
  }
}

// --init: the start shim. For a container whose seccomp profile runc already compiled once
// (for an earlier container), pierd has runc create it without the profile, as root with every
// capability, and with this helper (fd 3) as its process. Here, inside the container, it does
// what runc's init would have done last: installs the filter runc compiled (fd 5), then drops to
// the container's user and capabilities and execs the command. That spares libseccomp compiling
// ~360 rules on every start (~20 ms). The plan comes on fd 4, a socket to pierd; a failure is
// written there; a successful exec closes it (close-on-exec).
// runc sets HOME, when the process has none, from the container's /etc/passwd for the user it
// runs (libcontainer/user GetExecUser: the first entry whose uid or name matches, else "/").
// It ran the shim as root: for another user the shim looks it up again, the same way.
static void setUserHome(bool evenRoot) {
  if (plan.uid == 0 && !evenRoot) return;  // runc's answer is the right one
  static char home[PATH_MAX + 8] = "HOME=/";
  char uidText[16];
  snprintf(uidText, sizeof(uidText), "%u", (unsigned)plan.uid);
  FILE* f = fopen("/etc/passwd", "re");
  char line[4096];
  while (f && fgets(line, sizeof(line), f)) {
    char* l = line;
    while (isspace((unsigned char)*l)) l++;
    size_t n = strlen(l);
    while (n > 0 && isspace((unsigned char)l[n - 1])) l[--n] = '\0';
    char* field[7] = {0};
    int nf = 0;
    for (char* p = l; nf < 7; nf++) {
      field[nf] = p;
      char* c = strchr(p, ':');
      if (!c) { nf++; break; }
      *c = '\0';
      p = c + 1;
    }
    if (nf < 3) continue;
    char* end;
    unsigned long uid = strtoul(field[2], &end, 10);
    bool uidMatches = *field[2] && !*end && uid == plan.uid;
    if (!uidMatches && strcmp(field[0], uidText) != 0) continue;
    snprintf(home, sizeof(home), "HOME=%s", nf > 5 ? field[5] : "");
    break;
  }
  if (f) fclose(f);
  for (int i = 0; i < plan.nenv; i++)
    if (!strncmp(plan.env[i], "HOME=", 5)) {
      plan.env[i] = home;
      return;
    }
  if (plan.nenv < MAX_ITEMS - 1) {
    plan.env[plan.nenv++] = home;
    plan.env[plan.nenv] = NULL;
  }
}

// The forked child into the container's cgroups, by the joiner (its pid namespace is the host's,
// as ours), then "go" on goFd. False (the child killed, why reported) when it could not be moved.
// Did the child exec? Its error pipe (errFd) closes on exec; a message (returned in msg, its
// length the result; 0: it runs) means it never ran. Closes fd.
static size_t execFailure(int fd, char* msg, size_t cap) {
  size_t ml = 0;
  for (;;) {
    ssize_t n = read(fd, msg + ml, cap - 1 - ml);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    ml += (size_t)n;
    if (ml >= cap - 1) break;
  }
  msg[ml] = '\0';
  close(fd);
  return ml;
}

static bool moveIntoCgroups(pid_t pid, int goFd) {
  char pidText[16], why[PATH_MAX + 128];
  int pl = snprintf(pidText, sizeof(pidText), "%d", pid);
  writeAll(joinerIn, pidText, (size_t)pl);
  close(joinerIn);
  size_t wl = 0;
  for (;;) {
    ssize_t n = read(joinerOut, why + wl, sizeof(why) - 1 - wl);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    wl += (size_t)n;
    if (wl >= sizeof(why) - 1) break;
  }
  why[wl] = '\0';
  close(joinerOut);
  int st;
  while (waitpid(joinerPid, &st, 0) < 0 && errno == EINTR) {}
  if (wl > 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    kill(pid, SIGKILL);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    report("error", "%s", wl > 0 ? why : "failed to join the container's cgroups");
    return false;
  }
  writeAll(goFd, "g", 1);
  close(goFd);
  return true;
}

static __attribute__((noreturn)) void initMain(char** argv) {
  // Until it drops to the container's user it holds more than the container's capabilities,
  // and no filter yet: like runc's init, not to be ptraced (or its /proc/<pid>/fd opened) by
  // the container's processes unless they hold CAP_SYS_PTRACE. Its execve makes the command
  // dumpable again, as runc's does.
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  ctlFd = 4;
  errFd = 4;
  // The container's processes cannot reach this binary through /proc/1/exe while it runs
  // (ptrace access needs the capabilities it holds), but run from a sealed copy all the same.
  reexecFromMemfd(argv);
  resetSignals();
  readPlan(MODE_INIT);
  readLastCap();
  // runc gave the process its environment; PATH is looked up in it.
  for (char** e = environ; *e && plan.nenv < MAX_ITEMS - 1; e++) plan.env[plan.nenv++] = *e;
  plan.env[plan.nenv] = NULL;
  if (plan.setHome) setUserHome(false);
  if (plan.seccompFd >= 0 && !loadFilterFd(plan.seccompFd)) childFail("cannot read the container's seccomp filter");
  finalizeProcess();
}

// --dump-filter: copy the seccomp filter runc installed in a container's init to a file (the
// plan's "seccomp" path), for the start shim of later containers with the same profile.
static int dumpFilterMain(void) {
  readPlan(MODE_DUMP_FILTER);
  int pidfd = pidfdOpen(plan.pid);
  if (pidfd < 0) fallback("container is not running");
  verifyInit(pidfd);
  extractFilter();
  // Still the same process: its pid did not name another one while the filter was read.
  if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) != 0) {
    unlink(plan.seccompPath);
    fallback("container is not running");
  }
  report("ok", "%u", (unsigned)seccompProg.len);
  return 0;
}

#include "pier_runtime.c"

int main(int argc, char** argv) {
  if (argc > 1 && !strcmp(argv[1], "--init")) initMain(argv);
  if (argc > 1 && !strcmp(argv[1], "--runtime")) runtimeMain(argc, argv);
  reexecFromMemfd(argv);
  signal(SIGPIPE, SIG_IGN);
  if (argc > 1 && !strcmp(argv[1], "--dump-filter")) return dumpFilterMain();
  readPlan(MODE_EXEC);
  readLastCap();

  int pidfd = pidfdOpen(plan.pid);
  if (pidfd < 0) fallback("container is not running");
  verifyInit(pidfd);
  if (plan.seccompPath && !loadFilterFile(plan.seccompPath)) extractFilter();

  // stdio: pierd's sockets are relayed through pipes; anything else is passed as it is.
  struct relay rin = {0}, rout = {0}, rerr = {0};
  int childIn = 0, childOut = 1, childErr = 2;
  int p[2];
  if (isSocket(0)) {
    if (pipe2(p, O_CLOEXEC) != 0) fallback("pipe: %s", goErr(errno));
    childIn = p[0];
    rin = (struct relay){.src = 0, .dst = p[1], .active = true};
  }
  if (isSocket(1)) {
    if (pipe2(p, O_CLOEXEC) != 0) fallback("pipe: %s", goErr(errno));
    childOut = p[1];
    rout = (struct relay){.src = p[0], .dst = 1, .active = true};
  }
  if (isSocket(2)) {
    if (pipe2(p, O_CLOEXEC) != 0) fallback("pipe: %s", goErr(errno));
    childErr = p[1];
    rerr = (struct relay){.src = p[0], .dst = 2, .active = true};
  }
  int ep[2];
  if (pipe2(ep, O_CLOEXEC) != 0) fallback("pipe: %s", goErr(errno));

  // The child is in the container's pid namespace, with every capability and no filter yet:
  // like runc's init, not dumpable, so that a process of the container cannot ptrace it or open
  // its fds without CAP_SYS_PTRACE. execve resets it.
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) fallback("prctl dumpable: %s", goErr(errno));
  int gop[2];  // "go" from us once the child is in the container's cgroups
  if (pipe2(gop, O_CLOEXEC) != 0) fallback("pipe: %s", goErr(errno));
  // No file or directory of the host is open from here on: the child gets none (a directory
  // of the host reached through /proc/<pid>/fd/N/.. is the host's root; CVE-2024-21626).
  enterContainerNamespaces(pidfd);
  if (setns(pidfd, CLONE_NEWPID) != 0) fallback("setns pid: %s", goErr(errno));
  close(pidfd);
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) fallback("fork: %s", goErr(errno));
  if (pid == 0) {
    close(CTL_FD);  // pierd's control socket: nothing for a process of the container to reach
    close(joinerIn);
    close(joinerOut);
    close(gop[1]);
    close(ep[0]);
    errFd = ep[1];
    if (dup2(childIn, 0) < 0 || dup2(childOut, 1) < 0 || dup2(childErr, 2) < 0) childFail("dup2: %s", goErr(errno));
    child(gop[0]);
  }
  close(gop[0]);
  if (!moveIntoCgroups(pid, gop[1])) return 0;
  close(ep[1]);
  if (rin.active) close(childIn);
  if (rout.active) close(childOut);
  if (rerr.active) close(childErr);
  char line[64];
  snprintf(line, sizeof(line), "pid %d\n", pid);
  writeAll(CTL_FD, line, strlen(line));

  char msg[4096];
  size_t ml = execFailure(ep[0], msg, sizeof(msg));
  if (ml > 0) {
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    report("error", "%s", msg);
    return 0;
  }

  writeAll(CTL_FD, "exec\n", 5);
  int cfd = pidfdOpen(pid);
  struct relay* rs[3] = {&rin, &rout, &rerr};
  for (int i = 0; i < 3; i++)
    if (rs[i]->active) {
      setNonblock(rs[i]->src, true);
      setNonblock(rs[i]->dst, true);
    }
  int status = 0;
  bool exited = false;
  while (!exited) {
    struct pollfd pfd[7];
    int np = 0;
    int owner[7];
    for (int i = 0; i < 3; i++) {
      struct relay* r = rs[i];
      if (!r->active) continue;
      if (r->len == 0 && !r->srcDone) {
        pfd[np] = (struct pollfd){.fd = r->src, .events = POLLIN};
        owner[np++] = i;
      }
      if (r->len > 0) {
        pfd[np] = (struct pollfd){.fd = r->dst, .events = POLLOUT};
        owner[np++] = i;
      }
    }
    int childSlot = -1;
    if (cfd >= 0) {
      childSlot = np;
      pfd[np] = (struct pollfd){.fd = cfd, .events = POLLIN};
      owner[np++] = -1;
    }
    int n = poll(pfd, (nfds_t)np, cfd >= 0 ? -1 : 50);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < np; i++)
      if (owner[i] >= 0 && pfd[i].revents) relayStep(rs[owner[i]], owner[i] == 0);
    bool childReady = cfd < 0 || (childSlot >= 0 && n > 0 && (pfd[childSlot].revents & POLLIN));
    if (childReady) {
      pid_t w = waitpid(pid, &status, WNOHANG);
      if (w == pid) exited = true;
    }
  }
  // What the process wrote before it ended is in the pipes: pass it on, without waiting for
  // processes it left behind that still hold the pipes open.
  for (int i = 1; i <= 2; i++) {
    struct relay* r = rs[i];
    if (!r->active) continue;
    setNonblock(r->dst, false);
    for (;;) {
      if (r->len == 0) {
        ssize_t n = read(r->src, r->buf, sizeof(r->buf));
        if (n <= 0) break;
        r->len = (size_t)n;
        r->off = 0;
      }
      ssize_t w = write(r->dst, r->buf + r->off, r->len);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) break;
      r->off += (size_t)w;
      r->len -= (size_t)w;
    }
    r->len = 0;
    r->srcDone = true;
    relayClose(r, false);
  }
  if (rin.active) relayClose(&rin, true);
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 255;
  snprintf(line, sizeof(line), "exit %d\n", code);
  writeAll(CTL_FD, line, strlen(line));
  return 0;
}
