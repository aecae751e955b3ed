// pier-monitor: Pier's per-container monitor, doing exactly what Pier used conmon for, in a
// static binary of a few dozen KiB (conmon links glib and costs ~2.4 MiB RSS per container).
//
// It takes the subset of conmon's command line that Pier passes, and speaks the same pipes,
// files and sockets, so pierd drives either one with the same code and live restore, attach,
// logs and exits work the same whichever monitor started a container:
//
//   _OCI_STARTPIPE   read once before anything else (and once more, in exec-attach mode, before
//                    the runtime runs: the caller attaches first);
//   _OCI_SYNCPIPE    one JSON line per message: {"data": <pid>} once the runtime made the
//                    process, {"data": -1, "message": "<runtime's stderr>"} when it failed, and in
//                    exec mode {"data": <exit status>} at the end;
//   _OCI_ATTACHPIPE  exec-attach mode: {"data": 0} once the attach socket listens;
//   <bundle>/attach  SOCK_SEQPACKET: each message out is one byte naming the stream (2 stdout,
//                    3 stderr; a tty's output is stdout) and up to 8192 bytes of output; each
//                    message in is stdin. A client's EOF closes the process's stdin unless
//                    --leave-stdin-open;
//   <bundle>/ctl     fifo of "<type> <height> <width>\n": 1 resizes the tty, 2 reopens the log;
//   k8s-file log     "<RFC3339Nano time> <stdout|stderr> <P|F> <text>\n", P marking a line split
//                    where a read ended (the rest follows in later records); rotated (pier-monitor
//                    only) as <log>.1 … <log>.N-1, gzip'ed to <log>.i.gz with --log-compress;
//   --exit-dir/<cid> and <persist dir>/exit: the exit status (the code, 128+signal when
//                    signalled), written atomically after the output is drained;
//   <persist dir>/oom  created when the kernel OOM-killed in the container's memory cgroup.
//
// Like conmon it forks once in create mode so it outlives its caller, makes itself a child
// subreaper (the container's init and `runc exec -d` processes are reparented to it when the
// runtime exits), forwards SIGTERM, SIGINT and SIGQUIT to the container, and keeps itself out of
// the OOM killer's reach while the runtime and the container get the caller's score back.
//
// Output backpressure: a client socket that is full keeps its message pending; the monitor then
// reads no more output (the process blocks on its full pipe) until every client took it, as
// conmon's blocking writes do, but without stopping stdin, resizes or new attaches meanwhile.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define MONITOR_VERSION "0.1.0"
#define STDIO_BUF 8192          /* one read of the process's output, as conmon's */
#define STDIN_BUF 32767         /* one attach message in, as conmon's CONN_SOCK_BUF_SIZE - 1 */
#define LOG_BUF 8192
#define MAX_CLIENTS 64
#define MAX_RUNTIME_ARGS 32
#define EXIT_CACHE 8
#define STREAM_STDOUT 2
#define STREAM_STDERR 3
#define CGROUP2_MAGIC 0x63677270
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

// ---------------------------------------------------------------- options

static const char *opt_cid, *opt_runtime, *opt_bundle, *opt_pidfile, *opt_monitor_pidfile;
static const char *opt_persist_dir, *opt_exit_dir, *opt_log_path, *opt_process_spec;
static const char *opt_runtime_args[MAX_RUNTIME_ARGS];
/* fds 3 .. 3+N-1 from the caller go on to the runtime's process (runc --preserve-fds N). */
static int opt_preserve_fds;
static int n_runtime_args;
static bool opt_tty, opt_stdin, opt_leave_stdin_open, opt_exec, opt_exec_attach;

// ---------------------------------------------------------------- state

static int devnull = -1;
static int sync_fd = -1, start_fd = -1, attach_pipe_fd = -1;
static int sig_fd = -1;
static int bundle_fd = -1;                 /* O_PATH fd of the bundle: attach socket, ctl fifo */
static int attach_fd = -1, ctl_fd = -1;
static int console_listen_fd = -1;
static char console_path[108];
static char console_tmpdir[64];
static int log_fd = -1;
static int oom_event_fd = -1;              /* cgroup v1 eventfd on memory.oom_control */
static char cg_dir[512];                   /* the container's memory cgroup (v1) or cgroup (v2) */
static bool cg_v2;

static int m_stdin = -1, m_stdout = -1, m_stderr = -1;
static bool stdin_closed;                  /* closed for good (EOF from a client, or EPIPE) */
static bool tty_hup;                       /* no slave open: look at the master again later */
static struct timespec tty_hup_since;
static int pending_rows = -1, pending_cols = -1;

static pid_t runtime_pid = -1, container_pid = -1;
static int runtime_status = -1, container_status = -1;
static bool runtime_done, runtime_handled, container_done;
static struct { pid_t pid; int status; } exit_cache[EXIT_CACHE];
static int n_exit_cache;
static sigset_t old_mask;
static char old_oom_score[16];

struct client {
  int fd;
  bool readable;
  bool writable;
  bool pending;                            /* the current output message is not yet sent */
};
static struct client clients[MAX_CLIENTS];
static int n_clients;
static int n_pending;

static char out_msg[1 + STDIO_BUF];        /* stream byte + output: the message being sent */
static size_t out_len;
static char in_buf[STDIN_BUF];             /* one stdin message from a client, being written */
static size_t in_len, in_off;
static char log_buf[LOG_BUF];
static size_t log_used;
static long long opt_log_size_max = -1;    /* rotate once the log has reached this (conmon's --log-size-max) */
static int opt_log_max_files = 1;          /* files kept, the current one included (--log-max-files) */
static long long log_size;                 /* bytes in the current log, written or buffered: counted, never stat'ed */
static bool opt_log_compress;              /* rotated files gzip-compressed, as F.1.gz … (--log-compress) */
static char log_dir[PATH_MAX];             /* the log's directory: flock'ed while a rotated file is compressed */
static char log_last_time[48];             /* the time of the last record in the current log (gzip header) */
static pid_t compress_pid = -1;            /* our compressing child, while it runs */
static char ctl_buf[200];
static size_t ctl_used;

// ---------------------------------------------------------------- small helpers

static void say(const char *fmt, va_list ap) {
  char msg[1024];
  int n = snprintf(msg, sizeof msg, "pier-monitor: ");
  int m = vsnprintf(msg + n, sizeof msg - n - 1, fmt, ap);
  if (m < 0) m = 0;
  size_t len = (size_t)n + ((size_t)m < sizeof msg - n - 1 ? (size_t)m : sizeof msg - n - 2);
  msg[len++] = '\n';
  ssize_t w;
  do w = write(2, msg, len); while (w < 0 && errno == EINTR);
}

static void warnx_(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  say(fmt, ap);
  va_end(ap);
}

static void cleanup_paths(void);

__attribute__((noreturn)) static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  say(fmt, ap);
  va_end(ap);
  cleanup_paths();
  _exit(1);
}

static int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t w = write(fd, p, len);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    len -= (size_t)w;
  }
  return 0;
}

static ssize_t read_retry(int fd, void *buf, size_t len) {
  ssize_t r;
  do r = read(fd, buf, len); while (r < 0 && errno == EINTR);
  return r;
}

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

static void set_nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/*
 * Write `content` to `path` through a temporary file and rename: readers see all or nothing.
 * Not fsynced: every file the monitor writes (its pid, the exit code) lives in the exec root,
 * runtime state that a reboot makes meaningless (a tmpfs on most hosts, as dockerd's and
 * containerd's are), and a pierd crash leaves the page cache intact. An fsync here sat on the
 * start path (before the monitor forks away) and on the exit path of every container.
 */
static int write_file_atomic(const char *path, const char *content) {
  char tmp[PATH_MAX];
  if (snprintf(tmp, sizeof tmp, "%s.tmp-monitor", path) >= (int)sizeof tmp) return -1;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return -1;
  int rc = write_all(fd, content, strlen(content));
  if (close(fd) != 0 && rc == 0) rc = -1;
  if (rc == 0) rc = rename(tmp, path);
  if (rc != 0) unlink(tmp);
  return rc;
}

/*
 * Close every fd from 3 up but the pipes from the caller: one inherited by the caller's caller
 * (a shell's, a terminal's) would otherwise stay open as long as the container runs.
 */
static void close_inherited(void) {
  int keep[3] = {sync_fd, start_fd, attach_pipe_fd};
  for (int i = 0; i < 3; i++)  /* sort the three */
    for (int j = i + 1; j < 3; j++)
      if (keep[j] < keep[i]) { int t = keep[i]; keep[i] = keep[j]; keep[j] = t; }
  unsigned lo = 3 + (unsigned)opt_preserve_fds;
  for (int i = 0; i <= 3; i++) {
    unsigned hi = i < 3 ? (unsigned)keep[i] : ~0U;
    if (i < 3 && (keep[i] < 3 || (unsigned)keep[i] < lo)) continue;
    if (hi > lo && syscall(SYS_close_range, lo, hi - 1, 0) < 0) {
      for (unsigned fd = lo; fd < hi && fd < 4096; fd++) close((int)fd);  /* before Linux 5.9 */
    }
    if (i < 3) lo = (unsigned)keep[i] + 1;
  }
}

static int env_fd(const char *name) {
  const char *v = getenv(name);
  if (!v || !*v) return -1;
  char *end;
  errno = 0;
  long fd = strtol(v, &end, 10);
  if (errno || *end || fd < 0 || fd > INT_MAX) die("cannot parse %s=%s", name, v);
  if (fcntl((int)fd, F_SETFD, FD_CLOEXEC) < 0) die("%s=%s is not an open file descriptor", name, v);
  return (int)fd;
}

/* One message to the caller on a sync pipe, as conmon's API version 1 writes it. */
static void write_sync(int *fd, int data, const char *message) {
  if (*fd < 0) return;
  char buf[4096];
  size_t n = (size_t)snprintf(buf, sizeof buf, "{\"data\": %d", data);
  if (message && *message) {
    n += (size_t)snprintf(buf + n, sizeof buf - n, ", \"message\": \"");
    // JSON escapes; '}' too, so a reader that frames messages by their closing brace (as
    // pierd did for conmon) is never cut short by the runtime's words.
    for (const unsigned char *p = (const unsigned char *)message; *p && n < sizeof buf - 16; p++) {
      unsigned char c = *p;
      if (c == '"' || c == '\\') { buf[n++] = '\\'; buf[n++] = (char)c; }
      else if (c == '\n') { buf[n++] = '\\'; buf[n++] = 'n'; }
      else if (c == '\t') { buf[n++] = '\\'; buf[n++] = 't'; }
      else if (c < 0x20 || c == 0x7f || c == '}') n += (size_t)snprintf(buf + n, sizeof buf - n, "\\u%04x", c);
      else buf[n++] = (char)c;
    }
    buf[n++] = '"';
  }
  buf[n++] = '}';
  buf[n++] = '\n';
  if (write_all(*fd, buf, n) < 0) close_fd(fd);  /* the caller is gone: nobody to tell */
}

// ---------------------------------------------------------------- command line

static void usage(int code) {
  const char *text =
      "Usage: pier-monitor [OPTIONS]\n"
      "Pier's container monitor; takes the conmon options pierd passes:\n"
      "  -c, --cid ID                 container ID (runtime's name for it; exit file name)\n"
      "  -r, --runtime PATH           OCI runtime (runc)\n"
      "      --runtime-arg ARG        global runtime argument (repeatable)\n"
      "  -b, --bundle DIR             bundle: config.json; attach socket and ctl fifo go here\n"
      "  -p, --container-pidfile F    the runtime writes the process's pid here\n"
      "  -P, --conmon-pidfile F       the monitor's own pid\n"
      "  -0, --persist-dir DIR        exit and oom files\n"
      "      --exit-dir DIR           exit file <DIR>/<ID>\n"
      "  -l, --log-path k8s-file:F    log file (none:F for none)\n"
      "      --log-size-max N         start a new log file once it has reached N bytes\n"
      "      --log-max-files N        files kept then, as F.1 (newest) … F.N-1 (default 1)\n"
      "      --log-compress           gzip the rotated files (F.1.gz …), in the background\n"
      "  -t, --terminal               a pty for the process\n"
      "  -i, --stdin                  keep stdin for attach clients\n"
      "      --leave-stdin-open       keep stdin open when an attach client ends\n"
      "  -e, --exec                   run --exec-process-spec in container ID (runtime exec)\n"
      "      --exec-attach            wait for the attach socket's client before exec\n"
      "      --exec-process-spec F    process.json of the exec\n"
      "      --preserve-fds N         pass fds 3..3+N-1 on to the runtime's process\n"
      "      --api-version N, -u ID, -n NAME, --socket-dir-path DIR, --full-attach,\n"
      "      --log-level L            accepted for conmon compatibility\n"
      "      --version\n";
  write_all(code ? 2 : 1, text, strlen(text));
  exit(code);
}

/* Whether argument `a` is the option with short name `s` (or NULL) or long name `l`. */
static bool is_opt(const char *a, const char *s, const char *l) {
  return (s && strcmp(a, s) == 0) || strcmp(a, l) == 0;
}

static void parse_args(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    char *a = argv[i];
    char *val = NULL;
    char *eq = NULL;
    if (a[0] == '-' && a[1] == '-' && (eq = strchr(a, '='))) {
      *eq = 0;
      val = eq + 1;
    }
#define FLAG(s, l) is_opt(a, s, l)
#define VALUE() (val ? val : (i + 1 < argc ? argv[++i] : (die("option %s needs a value", a), (char *)0)))
    if (FLAG("-c", "--cid")) opt_cid = VALUE();
    else if (FLAG("-u", "--cuuid")) (void)VALUE();
    else if (FLAG("-n", "--name")) (void)VALUE();
    else if (FLAG("-r", "--runtime")) opt_runtime = VALUE();
    else if (FLAG(NULL, "--runtime-arg")) {
      if (n_runtime_args >= MAX_RUNTIME_ARGS) die("too many --runtime-arg");
      opt_runtime_args[n_runtime_args++] = VALUE();
    } else if (FLAG("-b", "--bundle")) opt_bundle = VALUE();
    else if (FLAG("-p", "--container-pidfile")) opt_pidfile = VALUE();
    else if (FLAG("-P", "--conmon-pidfile")) opt_monitor_pidfile = VALUE();
    else if (FLAG("-0", "--persist-dir")) opt_persist_dir = VALUE();
    else if (FLAG(NULL, "--exit-dir")) opt_exit_dir = VALUE();
    else if (FLAG("-l", "--log-path")) {
      char *v = VALUE();
      if (strncmp(v, "k8s-file:", 9) == 0) opt_log_path = v + 9;
      else if (strcmp(v, "none") == 0 || strncmp(v, "none:", 5) == 0) opt_log_path = NULL;
      else if (strchr(v, ':') == NULL) opt_log_path = v;  /* a bare path is a k8s-file, as conmon takes it */
      else die("unsupported log driver in %s (k8s-file or none)", v);
    } else if (FLAG(NULL, "--log-size-max")) {
      char *end;
      long long n = strtoll(VALUE(), &end, 10);
      if (*end || n == 0 || n < -1) die("bad --log-size-max");
      opt_log_size_max = n;
    } else if (FLAG(NULL, "--log-max-files")) {
      char *end;
      long n = strtol(VALUE(), &end, 10);
      if (*end || n < 1 || n > 1000) die("bad --log-max-files");
      opt_log_max_files = (int)n;
    } else if (FLAG(NULL, "--log-compress")) opt_log_compress = true;
    else if (FLAG("-t", "--terminal")) opt_tty = true;
    else if (FLAG("-i", "--stdin")) opt_stdin = true;
    else if (FLAG(NULL, "--leave-stdin-open")) opt_leave_stdin_open = true;
    else if (FLAG("-e", "--exec")) opt_exec = true;
    else if (FLAG(NULL, "--exec-attach")) opt_exec_attach = true;
    else if (FLAG(NULL, "--exec-process-spec")) opt_process_spec = VALUE();
    else if (FLAG(NULL, "--preserve-fds")) {
      char *end;
      long n = strtol(VALUE(), &end, 10);
      if (*end || n < 0 || n > 64) die("bad --preserve-fds");
      opt_preserve_fds = (int)n;
    }
    else if (FLAG(NULL, "--api-version")) {
      const char *v = VALUE();
      if (strcmp(v, "1") != 0) die("only --api-version 1 is supported");
    } else if (FLAG(NULL, "--socket-dir-path")) (void)VALUE();
    else if (FLAG(NULL, "--log-level")) (void)VALUE();
    else if (FLAG(NULL, "--full-attach")) {}
    else if (FLAG(NULL, "--version")) {
      const char *v = "pier-monitor version " MONITOR_VERSION "\n";
      write_all(1, v, strlen(v));
      exit(0);
    } else if (FLAG("-h", "--help")) usage(0);
    else die("unknown option %s (see --help)", a);
#undef FLAG
#undef VALUE
  }
  if (!opt_cid || !opt_runtime || !opt_bundle || !opt_pidfile) die("--cid, --runtime, --bundle and --container-pidfile are required");
  if (opt_exec && !opt_process_spec) die("--exec needs --exec-process-spec");
  if (opt_exec_attach && !opt_exec) die("--exec-attach needs --exec");
  if (opt_log_path) {
    const char *slash = strrchr(opt_log_path, '/');
    if (!slash) snprintf(log_dir, sizeof log_dir, ".");
    else snprintf(log_dir, sizeof log_dir, "%.*s", slash == opt_log_path ? 1 : (int)(slash - opt_log_path), opt_log_path);
  }
}

// ---------------------------------------------------------------- log (k8s-file)

static void log_flush(void) {
  if (log_used == 0) return;
  if (log_fd >= 0 && write_all(log_fd, log_buf, log_used) < 0) warnx_("cannot write the log: %s", strerror(errno));
  log_used = 0;
}

static void log_append(const char *p, size_t n) {
  while (n > 0) {
    size_t room = LOG_BUF - log_used;
    if (room == 0) {
      log_flush();
      room = LOG_BUF;
    }
    size_t k = n < room ? n : room;
    memcpy(log_buf + log_used, p, k);
    log_used += k;
    p += k;
    n -= k;
  }
}

static void open_log(void);

// ---------------------------------------------------------------- log compression
//
// With --log-compress a rotated file is gzip'ed (F.1 -> F.1.gz, dockerd's names) by a child of
// the monitor, so the container's output is never held up by it. The child writes F.i.gz.tmp,
// fsyncs it, renames it to F.i.gz and only then removes F.i: a crash at any point leaves F.i
// whole (and maybe also its complete F.i.gz, which the next compression keeps in place of F.i).
// Readers take F.i before F.i.gz, so they find one or the other, never neither.
//
// The child holds an flock on the log's directory until it is done; a rotation takes that lock
// first and is put off (the current file grows on past max-size) while it is held: no rename
// happens under a compressing child, ours or one left by an earlier monitor of the container.
// Past twice max-size the monitor stops reading the process's output until the lock is free
// (dockerd blocks its writer at the next rotation the same way).
//
// The gzip header's extra field is JSON, as dockerd's: {"lastTime": <time of the last record>}
// (dockerd's key; a reader skips the file for a later --since), plus "ino" and "birth" of the
// file compressed, so a reader that already holds that file (it was F, then F.1, when it looked)
// knows the .gz for the same lines.

/* The flock of the log's directory, or -1 when someone holds it (-2: no lock to be had).
   With `wait`, until it is free. */
static int log_lock(bool wait) {
  int fd = open(log_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -2;
  int r;
  do r = flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)); while (r < 0 && errno == EINTR);
  if (r < 0) {
    int e = errno;
    close(fd);
    return e == EWOULDBLOCK ? -1 : -2;
  }
  return fd;
}

static void slot_name(char *out, size_t len, int i, const char *suffix) {
  snprintf(out, len, "%s.%d%s", opt_log_path, i, suffix);
}

/* statx's birth time, by the raw syscall (not every libc has the wrapper). */
struct pier_statx_ts { int64_t tv_sec; uint32_t tv_nsec; int32_t pad; };
struct pier_statx {
  uint32_t mask, blksize;
  uint64_t attributes;
  uint32_t nlink, uid, gid;
  uint16_t mode, pad1;
  uint64_t ino, size, blocks, attributes_mask;
  struct pier_statx_ts atime, btime, ctime, mtime;
  uint32_t rdev_major, rdev_minor, dev_major, dev_minor;
  uint64_t spare[14];
};
#ifndef SYS_statx
#define SYS_statx 332
#endif

/* Compress `plain` into `gz` through `tmp`; 0 when `gz` is complete and `plain` is gone. */
static int compress_one(const char *plain, const char *gz, const char *tmp, const char *last_time) {
  int in = open(plain, O_RDONLY | O_CLOEXEC);
  if (in < 0) return -1;
  struct pier_statx sx;
  memset(&sx, 0, sizeof sx);
  if (syscall(SYS_statx, in, "", 0x1000 /* AT_EMPTY_PATH */, 0x800 | 0x100 /* BTIME|INO */, &sx) < 0) sx.mask = 0;
  char extra[200];
  int xl;
  unsigned long long birth = (sx.mask & 0x800) ? (unsigned long long)sx.btime.tv_sec * 1000000000ULL + sx.btime.tv_nsec : 0;
  if (last_time && *last_time)
    xl = snprintf(extra, sizeof extra, "{\"lastTime\":\"%s\",\"ino\":%llu,\"birth\":\"%llu\"}", last_time, (unsigned long long)sx.ino, birth);
  else
    xl = snprintf(extra, sizeof extra, "{\"ino\":%llu,\"birth\":\"%llu\"}", (unsigned long long)sx.ino, birth);
  int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out < 0) {
    close(in);
    return -1;
  }
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  int rc = -1;
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) goto done;
  gz_header h;
  memset(&h, 0, sizeof h);
  h.os = 255;  /* unknown, as Go's gzip writes */
  h.extra = (Bytef *)extra;
  h.extra_len = (uInt)xl;
  deflateSetHeader(&zs, &h);
  static unsigned char ibuf[65536], obuf[65536];
  for (;;) {
    ssize_t r = read_retry(in, ibuf, sizeof ibuf);
    if (r < 0) goto end;
    zs.next_in = ibuf;
    zs.avail_in = (uInt)r;
    int flush = r == 0 ? Z_FINISH : Z_NO_FLUSH;
    int z;
    do {
      zs.next_out = obuf;
      zs.avail_out = sizeof obuf;
      z = deflate(&zs, flush);
      if (z == Z_STREAM_ERROR) goto end;
      if (write_all(out, obuf, sizeof obuf - zs.avail_out) < 0) goto end;
    } while (zs.avail_out == 0);
    if (z == Z_STREAM_END) break;
  }
  rc = 0;
end:
  deflateEnd(&zs);
done:
  if (rc == 0 && fsync(out) < 0) rc = -1;
  if (close(out) < 0) rc = -1;
  close(in);
  if (rc == 0 && rename(tmp, gz) < 0) rc = -1;
  if (rc != 0) {
    unlink(tmp);
    return -1;
  }
  unlink(plain);
  return 0;
}

/* In the child, holding the lock: every rotated file not yet compressed is (F.1 just now; others
   a crash left plain). `last_time` is F.1's last record's, when the monitor just rotated it. */
static void compress_rotated(const char *last_time) {
  char plain[PATH_MAX], gz[PATH_MAX], tmp[PATH_MAX];
  for (int i = 1; i < opt_log_max_files; i++) {
    slot_name(plain, sizeof plain, i, "");
    slot_name(gz, sizeof gz, i, ".gz");
    slot_name(tmp, sizeof tmp, i, ".gz.tmp");
    unlink(tmp);  /* one a crash left: nothing else writes it while we hold the lock */
    if (access(plain, F_OK) < 0) continue;
    if (access(gz, F_OK) == 0) {
      unlink(plain);  /* the crash came between the .gz's rename and this unlink: it is complete */
      continue;
    }
    compress_one(plain, gz, tmp, i == 1 ? last_time : NULL);
  }
}

/* Compress in a child that holds `lock` (an flock'ed fd) until it ends; we let go of ours. */
static void start_compression(int lock, const char *last_time) {
  pid_t pid = fork();
  if (pid == 0) {
    // Nothing of the monitor's but the lock: a copy of the process's stdin or of a client's
    // socket would keep them open (no EOF) as long as the compression runs.
    if (lock > 0) syscall(SYS_close_range, 0, (unsigned)lock - 1, 0);
    syscall(SYS_close_range, (unsigned)lock + 1, ~0U, 0);
    sigprocmask(SIG_SETMASK, &old_mask, NULL);
    compress_rotated(last_time);
    _exit(0);
  }
  if (pid < 0) warnx_("cannot fork to compress the log: %s", strerror(errno));
  else compress_pid = pid;
  close(lock);
}

/* At start: finish what a monitor before us left uncompressed (it was killed, the host crashed). */
static void compress_leftovers(void) {
  if (!opt_log_path || !opt_log_compress || opt_log_max_files <= 1) return;
  // Looked for first, so a start with nothing left over costs no fork.
  char name[PATH_MAX];
  bool left = false;
  for (int i = 1; i < opt_log_max_files && !left; i++) {
    slot_name(name, sizeof name, i, "");
    left = access(name, F_OK) == 0;
    slot_name(name, sizeof name, i, ".gz.tmp");
    left = left || access(name, F_OK) == 0;
  }
  if (!left) return;
  int lock = log_lock(false);
  if (lock >= 0) start_compression(lock, NULL);
}

/* The log has reached its size: F.N-2 … F.1 and F move one place older (F.N-1 is dropped), as
   dockerd's json-file rotates, and a new F begins; with one file kept F just begins again.
   Called between records, so a record never spans two files. Returns false when the rotation
   must wait for a compression still running (with `wait`, it waits for it). */
static bool log_rotate(bool wait) {
  log_flush();  /* first: what is written must not wait in our buffer while we wait for the lock */
  int lock = -2;
  if (opt_log_compress && opt_log_max_files > 1) {
    lock = log_lock(wait);
    if (lock == -1) return false;
  }
  char from[PATH_MAX], to[PATH_MAX];
  if (opt_log_max_files <= 1) {
    if (unlink(opt_log_path) < 0 && errno != ENOENT) warnx_("cannot remove the log %s: %s", opt_log_path, strerror(errno));
  } else {
    // Each older file may be compressed (F.i.gz) or not (yet): both forms move.
    for (int gz = 0; gz <= 1; gz++) {
      slot_name(to, sizeof to, opt_log_max_files - 1, gz ? ".gz" : "");
      if (unlink(to) < 0 && errno != ENOENT) warnx_("cannot remove %s: %s", to, strerror(errno));
    }
    for (int i = opt_log_max_files - 2; i >= 0; i--) {
      for (int gz = 0; gz <= 1; gz++) {
        if (i == 0 && gz) continue;
        if (i == 0) snprintf(from, sizeof from, "%s", opt_log_path);
        else slot_name(from, sizeof from, i, gz ? ".gz" : "");
        slot_name(to, sizeof to, i + 1, gz ? ".gz" : "");
        if (rename(from, to) < 0 && errno != ENOENT) warnx_("cannot rename %s: %s", from, strerror(errno));
      }
    }
  }
  char last[sizeof log_last_time];
  memcpy(last, log_last_time, sizeof last);
  open_log();
  if (lock >= 0) start_compression(lock, last);
  return true;
}

/* A compression has run long enough for the log to reach twice max-size: output waits. */
static bool log_held_back(void) {
  return opt_log_compress && opt_log_size_max > 0 && log_size >= 2 * opt_log_size_max;
}

/* One read's worth of output as records: a line each, the last one "P" when it has no newline. */
static void log_output(int stream, const char *buf, size_t len) {
  if (log_fd < 0 || len == 0) return;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char head[80];
  int hl = snprintf(head, sizeof head, "%04d-%02d-%02dT%02d:%02d:%02d.%09ld+00:00 %s F ", tm.tm_year + 1900, tm.tm_mon + 1,
                    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)ts.tv_nsec, stream == STREAM_STDERR ? "stderr" : "stdout");
  bool stamped = false;
  bool rotation_waits = false;  /* tried once per read, not per line, while a compression runs */
  while (len > 0) {
    const char *nl = memchr(buf, '\n', len);
    size_t line = nl ? (size_t)(nl - buf) + 1 : len;
    head[hl - 2] = nl ? 'F' : 'P';
    if (opt_log_size_max > 0 && log_size >= opt_log_size_max) {
      if (!rotation_waits) rotation_waits = !log_rotate(false);
      // Twice max-size within one read (or while draining at the exit): the file stays bounded,
      // this record waits for the compression, as dockerd's writer does at its next rotation.
      if (rotation_waits && log_held_back()) rotation_waits = !log_rotate(true);
    }
    log_size += (long long)hl + (long long)line + (nl ? 0 : 1);
    log_append(head, (size_t)hl);
    log_append(buf, line);
    if (!nl) log_append("\n", 1);
    if (!stamped) {
      // The time of the log's last record, for the gzip header of the file once it is rotated.
      size_t tl = (size_t)(strchr(head, ' ') - head);
      memcpy(log_last_time, head, tl);
      log_last_time[tl] = 0;
      stamped = true;
    }
    buf += line;
    len -= line;
  }
  log_flush();
}

static void open_log(void) {
  if (!opt_log_path) return;
  int fd = open(opt_log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (log_fd >= 0) {
      warnx_("cannot reopen the log %s: %s", opt_log_path, strerror(errno));
      return;
    }
    die("cannot open the log %s: %s", opt_log_path, strerror(errno));
  }
  close_fd(&log_fd);
  log_fd = fd;
  // The one stat of a log file: its size when opened (a restarted container appends); from
  // here on the bytes written are counted.
  struct stat st;
  log_size = fstat(fd, &st) == 0 ? (long long)st.st_size : 0;
}

// ---------------------------------------------------------------- attach clients

static void client_drop(int i) {
  struct client *c = &clients[i];
  if (c->pending) n_pending--;
  close(c->fd);
  clients[i] = clients[--n_clients];
}

static void client_stop_writing(int i) {
  struct client *c = &clients[i];
  if (c->pending) {
    c->pending = false;
    n_pending--;
  }
  c->writable = false;
  shutdown(c->fd, SHUT_WR);
}

/* Try to hand the current output message to client i; false when it must wait (full). */
static void client_send(int i) {
  struct client *c = &clients[i];
  for (;;) {
    ssize_t w = send(c->fd, out_msg, out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w >= 0) {
      if (c->pending) {
        c->pending = false;
        n_pending--;
      }
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!c->pending) {
        c->pending = true;
        n_pending++;
      }
      return;
    }
    client_stop_writing(i);  /* EPIPE, ECONNRESET: the client is gone */
    return;
  }
}

static void broadcast(void) {
  for (int i = 0; i < n_clients; i++)
    if (clients[i].writable) client_send(i);
}

static void accept_clients(void) {
  for (;;) {
    int fd = accept4(attach_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  /* EAGAIN: none left */
    }
    if (n_clients == MAX_CLIENTS) {
      warnx_("too many attach clients");
      close(fd);
      continue;
    }
    clients[n_clients++] = (struct client){.fd = fd, .readable = true, .writable = true};
  }
}

static void close_stdin(void) {
  if (m_stdin >= 0) close(m_stdin);
  m_stdin = -1;
  stdin_closed = true;
  in_len = in_off = 0;
}

/* Write what is buffered of stdin; a full pipe keeps the rest for POLLOUT. */
static void flush_stdin(void) {
  while (in_off < in_len && m_stdin >= 0) {
    ssize_t w = write(m_stdin, in_buf + in_off, in_len - in_off);
    if (w >= 0) {
      in_off += (size_t)w;
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    close_stdin();  /* EPIPE: the process closed its stdin */
    return;
  }
  if (in_off >= in_len) in_len = in_off = 0;
}

/* A stdin-less monitor (or a closed stdin) drops what clients send. */
static bool stdin_wanted(void) {
  if (stdin_closed) return false;
  if (m_stdin >= 0) return true;
  return opt_tty && !runtime_done;  /* the pty is not here yet: keep it for when it is */
}

static void client_read(int i) {
  struct client *c = &clients[i];
  ssize_t r;
  do r = recv(c->fd, in_buf, sizeof in_buf, MSG_DONTWAIT); while (r < 0 && errno == EINTR);
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
  if (r > 0) {
    if (stdin_wanted()) {
      in_len = (size_t)r;
      in_off = 0;
      flush_stdin();
    }
    return;
  }
  // EOF (the client half-closed or left) or an error: its input is over.
  c->readable = false;
  shutdown(c->fd, SHUT_RD);
  if (opt_stdin && !opt_leave_stdin_open) close_stdin();
  if (r < 0) client_stop_writing(i);
}

// ---------------------------------------------------------------- process output

/*
 * The pty master reports hang-up while no slave is open (the process closed its tty but runs
 * on, or before it opened one): poll it again only after 100 ms, as conmon does, not in a spin.
 */
static void tty_hangup(void) {
  tty_hup = true;
  clock_gettime(CLOCK_MONOTONIC, &tty_hup_since);
}

static int tty_hup_wait_ms(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  long ms = (now.tv_sec - tty_hup_since.tv_sec) * 1000 + (now.tv_nsec - tty_hup_since.tv_nsec) / 1000000;
  if (ms >= 100) {
    tty_hup = false;
    return -1;
  }
  return (int)(100 - ms);
}

/* Read once from *fd: 1 data (logged, sent), 0 nothing now, -1 ended (fd closed). */
static int pump(int *fd, int stream) {
  ssize_t r = read_retry(*fd, out_msg + 1, STDIO_BUF);
  if (r > 0) {
    out_msg[0] = (char)stream;
    out_len = (size_t)r + 1;
    log_output(stream, out_msg + 1, (size_t)r);
    broadcast();
    return 1;
  }
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
  if (r < 0 && errno == EIO && opt_tty && !container_done) {
    tty_hangup();  /* no slave open right now; one may open again */
    return 0;
  }
  close_fd(fd);
  return -1;
}

// ---------------------------------------------------------------- terminal

static void apply_winsize(void) {
  if (m_stdout < 0 || pending_rows < 0) return;
  struct winsize ws = {.ws_row = (unsigned short)pending_rows, .ws_col = (unsigned short)pending_cols};
  if (ioctl(m_stdout, TIOCSWINSZ, &ws) < 0) warnx_("cannot resize the terminal: %s", strerror(errno));
  pending_rows = pending_cols = -1;
}

static void setup_console_socket(void) {
  // runc connects to this path by name, so it must fit sun_path: in the bundle when short
  // enough, else in a private directory under /tmp (as conmon uses /tmp/conmon-term.*).
  if (strlen(opt_bundle) + sizeof "/console.sock" <= sizeof console_path) {
    snprintf(console_path, sizeof console_path, "%s/console.sock", opt_bundle);
  } else {
    strcpy(console_tmpdir, "/tmp/pier-monitor-XXXXXX");
    if (!mkdtemp(console_tmpdir)) die("cannot make a directory for the console socket: %s", strerror(errno));
    snprintf(console_path, sizeof console_path, "%s/console.sock", console_tmpdir);
  }
  unlink(console_path);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  memcpy(addr.sun_path, console_path, strlen(console_path) + 1);
  console_listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (console_listen_fd < 0) die("socket: %s", strerror(errno));
  if (fchmod(console_listen_fd, 0700) < 0) die("fchmod console socket: %s", strerror(errno));
  if (bind(console_listen_fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind %s: %s", console_path, strerror(errno));
  if (listen(console_listen_fd, 1) < 0) die("listen %s: %s", console_path, strerror(errno));
}

static void remove_console_socket(void) {
  close_fd(&console_listen_fd);
  if (console_path[0]) unlink(console_path);
  console_path[0] = 0;
  if (console_tmpdir[0]) rmdir(console_tmpdir);
  console_tmpdir[0] = 0;
}

/* runc sends the pty master over the console socket (SCM_RIGHTS); true once we have it. */
static bool receive_console(void) {
  int conn;
  do conn = accept4(console_listen_fd, NULL, NULL, SOCK_CLOEXEC); while (conn < 0 && errno == EINTR);
  if (conn < 0) return false;
  char name[256];
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  struct iovec iov = {.iov_base = name, .iov_len = sizeof name};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
  ssize_t r;
  do r = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC); while (r < 0 && errno == EINTR);
  close(conn);
  int fd = -1;
  struct cmsghdr *cm = r >= 0 ? CMSG_FIRSTHDR(&msg) : NULL;
  if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS && cm->cmsg_len == CMSG_LEN(sizeof(int)))
    memcpy(&fd, CMSG_DATA(cm), sizeof fd);
  if (fd < 0) {
    warnx_("the runtime sent no terminal on the console socket");
    return false;
  }
  remove_console_socket();
  // runc turns ONLCR off; Docker's ttys (and conmon's) translate "\n" to "\r\n".
  struct termios t;
  if (tcgetattr(fd, &t) == 0) {
    t.c_oflag |= ONLCR;
    tcsetattr(fd, TCSANOW, &t);
  }
  m_stdout = fd;
  set_nonblock(m_stdout);
  if (!stdin_closed) {
    m_stdin = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (m_stdin < 0) die("dup: %s", strerror(errno));
  }
  apply_winsize();
  flush_stdin();
  return true;
}

// ---------------------------------------------------------------- ctl fifo

static void ctl_line(char *line) {
  int type, rows, cols;
  if (sscanf(line, "%d %d %d", &type, &rows, &cols) != 3) {
    warnx_("bad control message: %s", line);
    return;
  }
  if (type == 1) {
    if (rows < 0 || cols < 0 || rows > 65535 || cols > 65535) return;
    pending_rows = rows;
    pending_cols = cols;
    if (opt_tty) apply_winsize();
  } else if (type == 2) {
    log_flush();
    open_log();
  }
}

static void ctl_read(void) {
  for (;;) {
    ssize_t r = read_retry(ctl_fd, ctl_buf + ctl_used, sizeof ctl_buf - 1 - ctl_used);
    if (r <= 0) return;
    ctl_used += (size_t)r;
    ctl_buf[ctl_used] = 0;
    char *start = ctl_buf, *nl;
    while ((nl = memchr(start, '\n', ctl_used - (size_t)(start - ctl_buf)))) {
      *nl = 0;
      ctl_line(start);
      start = nl + 1;
    }
    size_t rest = ctl_used - (size_t)(start - ctl_buf);
    if (rest == sizeof ctl_buf - 1) rest = 0;  /* a line longer than any message: drop it */
    memmove(ctl_buf, start, rest);
    ctl_used = rest;
  }
}

// ---------------------------------------------------------------- attach socket, ctl fifo

static void setup_bundle_endpoints(void) {
  bundle_fd = open(opt_bundle, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (bundle_fd < 0) die("cannot open the bundle %s: %s", opt_bundle, strerror(errno));
  // Bound through /proc/self/fd so a bundle path longer than sun_path still works.
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  snprintf(addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d/attach", bundle_fd);
  if (unlinkat(bundle_fd, "attach", 0) < 0 && errno != ENOENT) die("cannot remove an old attach socket: %s", strerror(errno));
  attach_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (attach_fd < 0) die("socket: %s", strerror(errno));
  if (fchmod(attach_fd, 0700) < 0) die("fchmod attach socket: %s", strerror(errno));
  if (bind(attach_fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind the attach socket in %s: %s", opt_bundle, strerror(errno));
  if (fchmodat(bundle_fd, "attach", 0700, 0) < 0) die("chmod the attach socket: %s", strerror(errno));
  if (listen(attach_fd, 10) < 0) die("listen on the attach socket: %s", strerror(errno));

  char ctl[PATH_MAX];
  snprintf(ctl, sizeof ctl, "/proc/self/fd/%d/ctl", bundle_fd);
  if (mkfifo(ctl, 0660) < 0) {
    if (errno != EEXIST) die("mkfifo ctl: %s", strerror(errno));
    unlinkat(bundle_fd, "ctl", 0);
    if (mkfifo(ctl, 0660) < 0) die("mkfifo ctl: %s", strerror(errno));
  }
  // Read and write: the monitor is a writer itself, so the fifo never reports hang-up when a
  // caller closes it, and a caller's O_NONBLOCK open finds a reader.
  ctl_fd = open(ctl, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (ctl_fd < 0) die("open ctl: %s", strerror(errno));
}

static void cleanup_paths(void) {
  remove_console_socket();
  if (bundle_fd >= 0) {
    if (attach_fd >= 0) unlinkat(bundle_fd, "attach", 0);
    if (ctl_fd >= 0) unlinkat(bundle_fd, "ctl", 0);
  }
  close_fd(&attach_fd);
  close_fd(&ctl_fd);
}

// ---------------------------------------------------------------- OOM

/* The container's cgroup directory for `controller` ("" on cgroup v2), from /proc/<pid>/cgroup. */
static bool cgroup_dir(pid_t pid, bool v2, char *out, size_t outlen) {
  char path[64], buf[4096];
  snprintf(path, sizeof path, "/proc/%d/cgroup", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = read_retry(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return false;
  buf[n] = 0;
  for (char *line = buf, *next; line && *line; line = next) {
    next = strchr(line, '\n');
    if (next) *next++ = 0;
    char *c1 = strchr(line, ':');
    char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2) continue;
    *c2 = 0;
    const char *ctrls = c1 + 1, *cg = c2 + 1;
    if (v2) {
      if (*ctrls == 0 && strncmp(line, "0", 1) == 0) return snprintf(out, outlen, "/sys/fs/cgroup%s", cg) < (int)outlen;
      continue;
    }
    for (const char *p = ctrls; *p;) {
      const char *e = strchr(p, ',');
      size_t len = e ? (size_t)(e - p) : strlen(p);
      if (len == 6 && strncmp(p, "memory", 6) == 0) return snprintf(out, outlen, "/sys/fs/cgroup/memory%s", cg) < (int)outlen;
      p += len + (e ? 1 : 0);
    }
  }
  return false;
}

static bool is_cgroup2(void) {
  struct statfs s;
  return statfs("/sys/fs/cgroup", &s) == 0 && (unsigned long)s.f_type == CGROUP2_MAGIC;
}

/* cgroup v1: an eventfd the kernel signals on each OOM in the container's memory cgroup. */
static void setup_oom(void) {
  if (opt_exec || !opt_persist_dir) return;
  char file[600];
  cg_v2 = is_cgroup2();
  if (!cgroup_dir(container_pid, cg_v2, cg_dir, sizeof cg_dir)) {
    cg_dir[0] = 0;
    return;
  }
  if (cg_v2) return;  /* memory.events is read at exit */
  snprintf(file, sizeof file, "%s/memory.oom_control", cg_dir);
  int ofd = open(file, O_RDONLY | O_CLOEXEC);
  if (ofd < 0) return;
  snprintf(file, sizeof file, "%s/cgroup.event_control", cg_dir);
  int cfd = open(file, O_WRONLY | O_CLOEXEC);
  int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (cfd >= 0 && efd >= 0) {
    char line[32];
    int n = snprintf(line, sizeof line, "%d %d", efd, ofd);
    if (write_all(cfd, line, (size_t)n) == 0) {
      oom_event_fd = efd;
      efd = -1;
    }
  }
  if (efd >= 0) close(efd);
  if (cfd >= 0) close(cfd);
  close(ofd);  /* the kernel holds its own reference for the registered event */
}

static void mark_oom(void) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/oom", opt_persist_dir);
  int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd >= 0) close(fd);
}

/* An OOM event, or (when the cgroup went away) its removal, which the eventfd reports too. */
static void oom_event(void) {
  uint64_t n;
  if (read_retry(oom_event_fd, &n, sizeof n) != (ssize_t)sizeof n || n == 0) return;
  char ctl[600];
  snprintf(ctl, sizeof ctl, "%s/cgroup.event_control", cg_dir);
  if (n == 1 && access(ctl, F_OK) != 0) return;
  mark_oom();
}

static void final_oom_check(void) {
  if (oom_event_fd >= 0) {
    oom_event();
    close_fd(&oom_event_fd);
  }
  if (!cg_v2 || !cg_dir[0]) return;
  char path[600], buf[1024];
  snprintf(path, sizeof path, "%s/memory.events", cg_dir);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  ssize_t n = read_retry(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return;
  buf[n] = 0;
  for (char *p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
    if (strncmp(p, "oom_kill ", 9) == 0 || strncmp(p, "oom ", 4) == 0) {
      if (strtol(strchr(p, ' ') + 1, NULL, 10) > 0) {
        mark_oom();
        return;
      }
    }
  }
}

static void oom_score(const char *value, char *old, size_t oldlen) {
  int fd = open("/proc/self/oom_score_adj", O_RDWR | O_CLOEXEC);
  if (fd < 0) return;
  if (old) {
    ssize_t n = read_retry(fd, old, oldlen - 1);
    old[n > 0 ? n : 0] = 0;
    char *nl = strchr(old, '\n');
    if (nl) *nl = 0;
  }
  if (write(fd, value, strlen(value)) < 0) {
    // not permitted (no CAP_SYS_RESOURCE): the monitor is as killable as its caller
  }
  close(fd);
}

// ---------------------------------------------------------------- children

static int exit_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

static void reap(void) {
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid < 0 && errno == EINTR) continue;
    if (pid <= 0) return;
    if (pid == compress_pid) {
      compress_pid = -1;  /* done: a rotation put off meanwhile happens with the next output */
    } else if (pid == runtime_pid) {
      runtime_status = status;
      runtime_done = true;
    } else if (container_pid > 0 && pid == container_pid) {
      container_status = status;
      container_done = true;
    } else if (container_pid < 0 && n_exit_cache < EXIT_CACHE) {
      // A process that ended before the runtime told its pid (a quick exec): kept until then.
      exit_cache[n_exit_cache].pid = pid;
      exit_cache[n_exit_cache++].status = status;
    }
    // else: an orphan of the container reparented to us; reaped and forgotten.
  }
}

static void on_signals(void) {
  struct signalfd_siginfo si;
  while (read_retry(sig_fd, &si, sizeof si) == (ssize_t)sizeof si) {
    if (si.ssi_signo == SIGCHLD) {
      reap();
      continue;
    }
    // SIGTERM, SIGINT, SIGQUIT go to the container (the runtime while it creates it), as conmon does.
    pid_t to = container_pid > 0 && !container_done ? container_pid : (!runtime_done ? runtime_pid : -1);
    if (to > 0) kill(to, (int)si.ssi_signo);
  }
}

static void spawn_runtime(int w_in, int w_out, int w_err) {
  const char *argv[MAX_RUNTIME_ARGS + 16];
  int n = 0;
  argv[n++] = opt_runtime;
  for (int i = 0; i < n_runtime_args; i++) argv[n++] = opt_runtime_args[i];
  if (opt_exec) {
    argv[n++] = "exec";
    argv[n++] = "-d";
    argv[n++] = "--pid-file";
    argv[n++] = opt_pidfile;
    argv[n++] = "--process";
    argv[n++] = opt_process_spec;
  } else {
    argv[n++] = "create";
    argv[n++] = "--bundle";
    argv[n++] = opt_bundle;
    argv[n++] = "--pid-file";
    argv[n++] = opt_pidfile;
  }
  if (opt_tty) {
    argv[n++] = "--console-socket";
    argv[n++] = console_path;
  }
  char preserve[16];
  if (opt_preserve_fds > 0) {
    snprintf(preserve, sizeof preserve, "%d", opt_preserve_fds);
    argv[n++] = "--preserve-fds";
    argv[n++] = preserve;
  }
  argv[n++] = opt_cid;
  argv[n] = NULL;

  runtime_pid = fork();
  if (runtime_pid < 0) die("fork: %s", strerror(errno));
  if (runtime_pid > 0) return;

  // The runtime: the container's stdio, the caller's signal mask and OOM score, default SIGPIPE.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  signal(SIGPIPE, SIG_DFL);
  sigprocmask(SIG_SETMASK, &old_mask, NULL);
  if (dup2(w_in >= 0 ? w_in : devnull, 0) < 0 || dup2(w_out >= 0 ? w_out : devnull, 1) < 0 || dup2(w_err, 2) < 0) _exit(127);
  if (opt_exec_attach && start_fd >= 0) {
    // Wait for the caller's go: its client is attached, no output can be missed.
    char b[64];
    if (read_retry(start_fd, b, sizeof b) < 0) _exit(127);
  }
  if (old_oom_score[0]) oom_score(old_oom_score, NULL, 0);
  execv(opt_runtime, (char *const *)argv);
  dprintf(2, "cannot run the runtime %s: %s\n", opt_runtime, strerror(errno));
  _exit(127);
}

/* The runtime failed: its stderr (or its status) goes to the caller as the error. */
__attribute__((noreturn)) static void runtime_failed(void) {
  char msg[4096];
  size_t n = 0;
  if (m_stderr >= 0) {
    set_nonblock(m_stderr);
    while (n < sizeof msg - 1) {
      ssize_t r = read_retry(m_stderr, msg + n, sizeof msg - 1 - n);
      if (r <= 0) break;
      n += (size_t)r;
    }
  }
  while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) n--;
  msg[n] = 0;
  if (n == 0) {
    if (WIFSIGNALED(runtime_status)) snprintf(msg, sizeof msg, "%s was killed by signal %d", opt_runtime, WTERMSIG(runtime_status));
    else snprintf(msg, sizeof msg, "%s exited with status %d", opt_runtime, exit_code(runtime_status));
  }
  write_sync(&sync_fd, -1, msg);
  cleanup_paths();
  _exit(1);
}

static pid_t read_pidfile(void) {
  char buf[32];
  int fd = open(opt_pidfile, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read_retry(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  long pid = strtol(buf, NULL, 10);
  return pid > 0 && pid <= INT_MAX ? (pid_t)pid : -1;
}

/* The runtime succeeded: learn the process, tell the caller, start watching it. */
static void runtime_succeeded(void) {
  if (opt_tty && m_stdout < 0 && !receive_console()) {
    write_sync(&sync_fd, -1, "the runtime did not set up the terminal");
    cleanup_paths();
    _exit(1);
  }
  remove_console_socket();
  container_pid = read_pidfile();
  if (container_pid < 0) {
    write_sync(&sync_fd, -1, "cannot read the runtime's pid file");
    cleanup_paths();
    _exit(1);
  }
  for (int i = 0; i < n_exit_cache; i++) {
    if (exit_cache[i].pid == container_pid) {
      container_status = exit_cache[i].status;
      container_done = true;
    }
  }
  n_exit_cache = 0;
  if (!container_done && kill(container_pid, 0) < 0 && errno == ESRCH) {
    // Reaped before its pid was known and not in the cache (it overflowed): the status is
    // lost, and 255 is what Docker reports for an exit nobody saw.
    container_status = 255 << 8;
    container_done = true;
  }
  setup_oom();
  write_sync(&sync_fd, container_pid, NULL);
  if (!opt_exec) close_fd(&sync_fd);  /* exec mode tells the exit status on it too */
  // From here on nothing is reported on stderr: let go of the caller's pipe.
  dup2(devnull, 2);
}

// ---------------------------------------------------------------- the end

__attribute__((noreturn)) static void finish(void) {
  log_flush();
  // A compression still running ends first: once the exit is written pierd may remove the
  // container's directory, which a file the child creates meanwhile would keep from going.
  if (compress_pid > 0) {
    int st;
    while (waitpid(compress_pid, &st, 0) < 0 && errno == EINTR) {}
    compress_pid = -1;
  }
  final_oom_check();
  int code = container_done ? exit_code(container_status) : 255;
  close_fd(&m_stdin);
  while (n_clients > 0) client_drop(n_clients - 1);
  // The socket and fifo go before the exit file: once pierd sees that, it may start the
  // container again, and a new monitor makes them anew.
  cleanup_paths();
  char status[16];
  snprintf(status, sizeof status, "%d", code);
  if (opt_persist_dir) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/exit", opt_persist_dir);
    if (write_file_atomic(path, status) < 0) warnx_("cannot write %s: %s", path, strerror(errno));
  }
  if (opt_exit_dir) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", opt_exit_dir, opt_cid);
    if (write_file_atomic(path, status) < 0) warnx_("cannot write %s: %s", path, strerror(errno));
  }
  if (opt_exec) write_sync(&sync_fd, code, NULL);
  close_fd(&log_fd);
  _exit(0);
}

// ---------------------------------------------------------------- main loop

enum { P_SIG, P_ATTACH, P_CTL, P_CONSOLE, P_OOM, P_STDOUT, P_STDERR, P_STDIN, P_FIXED };

static void loop(void) {
  struct pollfd fds[P_FIXED + MAX_CLIENTS];
  int client_of[MAX_CLIENTS];
  for (;;) {
    if (runtime_done && !runtime_handled) {
      // (until now the runtime's stderr was left unread: it is its error report)
      if (!WIFEXITED(runtime_status) || WEXITSTATUS(runtime_status) != 0) runtime_failed();
      runtime_handled = true;
      runtime_succeeded();
    }
    bool running = runtime_done;
    if (container_done) {
      // Drain: what the process wrote before it ended, until the pipes are empty (a writer
      // that outlives it, like a daemon in the host's pid namespace, is not waited for).
      // A client still in the listen queue gets it too.
      accept_clients();
      while (n_pending == 0 && (m_stdout >= 0 || m_stderr >= 0)) {
        if (m_stdout >= 0 && pump(&m_stdout, STREAM_STDOUT) == 0) close_fd(&m_stdout);
        if (n_pending == 0 && m_stderr >= 0 && pump(&m_stderr, STREAM_STDERR) == 0) close_fd(&m_stderr);
      }
      if (n_pending == 0) finish();
    }

    int timeout = tty_hup ? tty_hup_wait_ms() : -1;
    // After the exit, a client that takes no output for 5 s is let go: the exit must be
    // written even when an attached client stopped reading (a suspended `docker attach`).
    if (container_done && n_pending > 0) timeout = 5000;
    int n = 0;
    for (int i = 0; i < P_FIXED; i++) fds[i] = (struct pollfd){.fd = -1};
    fds[P_SIG] = (struct pollfd){.fd = sig_fd, .events = POLLIN};
    fds[P_ATTACH] = (struct pollfd){.fd = attach_fd, .events = POLLIN};
    fds[P_CTL] = (struct pollfd){.fd = ctl_fd, .events = POLLIN};
    if (console_listen_fd >= 0) fds[P_CONSOLE] = (struct pollfd){.fd = console_listen_fd, .events = POLLIN};
    if (oom_event_fd >= 0) fds[P_OOM] = (struct pollfd){.fd = oom_event_fd, .events = POLLIN};
    // A compression slower than the output: hold the output back (the lock is tried again
    // at each turn; our own child's end wakes us, another monitor's is looked for every 50 ms).
    bool log_waits = log_held_back() && !log_rotate(false);
    if (log_waits && (timeout < 0 || timeout > 50)) timeout = 50;
    if (running && !container_done && n_pending == 0 && !log_waits) {
      if (m_stdout >= 0 && !tty_hup) fds[P_STDOUT] = (struct pollfd){.fd = m_stdout, .events = POLLIN};
      if (m_stderr >= 0) fds[P_STDERR] = (struct pollfd){.fd = m_stderr, .events = POLLIN};
    }
    if (m_stdin >= 0 && in_len > 0) fds[P_STDIN] = (struct pollfd){.fd = m_stdin, .events = POLLOUT};
    n = P_FIXED;
    for (int i = 0; i < n_clients; i++) {
      struct client *c = &clients[i];
      short ev = 0;
      if (c->readable && in_len == 0) ev |= POLLIN;
      if (c->pending) ev |= POLLOUT;
      // A client only waiting for stdin to drain is left out (its hang-up would spin poll);
      // one that only receives is kept with no events: poll reports its hang-up.
      if (ev == 0 && c->readable) continue;
      client_of[n - P_FIXED] = i;
      fds[n++] = (struct pollfd){.fd = c->fd, .events = ev};
    }

    int r = poll(fds, (nfds_t)n, timeout);
    if (r < 0) {
      if (errno == EINTR) continue;
      die("poll: %s", strerror(errno));
    }
    if (r == 0 && container_done && n_pending > 0) {
      for (int i = 0; i < n_clients; i++)
        if (clients[i].pending) client_stop_writing(i);
      continue;
    }
    if (fds[P_SIG].revents) on_signals();
    // New clients before any output: one that connected before the process started (pierd
    // attaches between create and start) must get its very first bytes.
    if (fds[P_ATTACH].revents) accept_clients();
    if (fds[P_CONSOLE].revents && console_listen_fd >= 0) receive_console();
    if (fds[P_OOM].revents && oom_event_fd >= 0) oom_event();
    if (fds[P_CTL].revents) ctl_read();
    if (fds[P_STDIN].revents && m_stdin >= 0) flush_stdin();
    if (fds[P_STDOUT].revents && m_stdout >= 0) {
      if (fds[P_STDOUT].revents & POLLIN) pump(&m_stdout, STREAM_STDOUT);
      else if (opt_tty) tty_hangup();  /* POLLHUP alone: no slave open */
      else close_fd(&m_stdout);
    }
    if (fds[P_STDERR].revents && m_stderr >= 0) {
      // (not while stdout's message waits for a full client: it is still in out_msg)
      if (fds[P_STDERR].revents & POLLIN) {
        if (n_pending == 0) pump(&m_stderr, STREAM_STDERR);
      }
      else close_fd(&m_stderr);
    }
    // Clients: input in the order they connected (a client that wrote and left comes before
    // the next one), then drops from the last, as dropping one moves the last into its place.
    for (int k = P_FIXED; k < n; k++) {
      int i = client_of[k - P_FIXED];
      short rev = fds[k].revents;
      if ((rev & POLLOUT) && clients[i].pending) client_send(i);
      if ((rev & POLLIN) && clients[i].readable && in_len == 0) client_read(i);
    }
    for (int k = n - 1; k >= P_FIXED; k--) {
      int i = client_of[k - P_FIXED];
      short rev = fds[k].revents;
      bool hung_up = (rev & (POLLHUP | POLLERR | POLLNVAL)) && !(rev & POLLIN);
      if (hung_up || (!clients[i].readable && !clients[i].writable)) client_drop(i);
    }
  }
}

// ---------------------------------------------------------------- main

int main(int argc, char **argv) {
  parse_args(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  sync_fd = env_fd("_OCI_SYNCPIPE");
  start_fd = env_fd("_OCI_STARTPIPE");
  if (opt_exec_attach) {
    attach_pipe_fd = env_fd("_OCI_ATTACHPIPE");
    if (attach_pipe_fd < 0) die("--exec-attach needs _OCI_ATTACHPIPE");
  }
  close_inherited();
  if (start_fd >= 0) {
    // The caller's first go: it may move us into a cgroup before we make any children.
    char b[64];
    if (read_retry(start_fd, b, sizeof b) < 0) die("reading the start pipe: %s", strerror(errno));
    if (!opt_exec_attach) close_fd(&start_fd);
  }
  devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0) die("/dev/null: %s", strerror(errno));

  if (!opt_exec) {
    // Outlive the caller: it waits for nothing but the sync pipe.
    pid_t child = fork();
    if (child < 0) die("fork: %s", strerror(errno));
    if (child > 0) {
      if (opt_monitor_pidfile) {
        char s[16];
        snprintf(s, sizeof s, "%d", (int)child);
        if (write_file_atomic(opt_monitor_pidfile, s) < 0) warnx_("cannot write %s: %s", opt_monitor_pidfile, strerror(errno));
      }
      _exit(0);
    }
  } else if (opt_monitor_pidfile) {
    char s[16];
    snprintf(s, sizeof s, "%d", (int)getpid());
    write_file_atomic(opt_monitor_pidfile, s);
  }
  setsid();
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) die("cannot become a subreaper: %s", strerror(errno));
  oom_score("-1000", old_oom_score, sizeof old_oom_score);

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGQUIT);
  if (sigprocmask(SIG_BLOCK, &mask, &old_mask) < 0) die("sigprocmask: %s", strerror(errno));
  sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sig_fd < 0) die("signalfd: %s", strerror(errno));

  open_log();
  compress_leftovers();

  int fds[2], w_in = -1, w_out = -1, w_err = -1;
  if (opt_tty) {
    setup_console_socket();
  } else {
    if (opt_stdin) {
      if (pipe2(fds, O_CLOEXEC) < 0) die("pipe: %s", strerror(errno));
      w_in = fds[0];
      m_stdin = fds[1];
      set_nonblock(m_stdin);
    }
    if (pipe2(fds, O_CLOEXEC) < 0) die("pipe: %s", strerror(errno));
    m_stdout = fds[0];
    w_out = fds[1];
    set_nonblock(m_stdout);
  }
  if (!opt_stdin) stdin_closed = true;
  // stderr always: it carries the runtime's error when create or exec fails.
  if (pipe2(fds, O_CLOEXEC) < 0) die("pipe: %s", strerror(errno));
  m_stderr = fds[0];
  w_err = fds[1];
  set_nonblock(m_stderr);

  setup_bundle_endpoints();
  if (opt_exec_attach) {
    write_sync(&attach_pipe_fd, 0, NULL);
    close_fd(&attach_pipe_fd);
  }

  spawn_runtime(w_in, w_out, w_err);
  // The passed fds are the runtime's now: holding them would keep, e.g., a socket whose EOF
  // the caller waits for open as long as the container runs.
  for (int fd = 3; fd < 3 + opt_preserve_fds; fd++) close(fd);
  close_fd(&w_in);
  close_fd(&w_out);
  close_fd(&w_err);
  close_fd(&start_fd);
  loop();
  return 0;
}
