// pier_native: the few syscalls Node lacks (mknod, mount, xattrs, SOCK_SEQPACKET, posix_spawn).
// Plain N-API so it builds against any Node >= 20 without extra packages.
// Synchronous calls throw an Error with .code = errno name ("EPERM"), .errno, .syscall, .path.

#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>
#include <v8.h>  // LowMemoryNotification only: N-API has no way to ask V8 to shrink its heap

#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <string.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <deque>
#include <map>
#include <string>
#include <vector>

#include "netlink.h"

namespace {

// ---- helpers ---------------------------------------------------------------------------

#define CHECK_NAPI(env, call)                                    \
  do {                                                           \
    if ((call) != napi_ok) {                                     \
      napi_throw_error((env), nullptr, "N-API call failed: " #call); \
      return nullptr;                                            \
    }                                                            \
  } while (0)

napi_value MakeErrnoError(napi_env env, int err, const char* syscall, const std::string& path) {
  std::string code = uv_err_name(-err);
  if (code.compare(0, 7, "Unknown") == 0 && strerrorname_np(err)) code = strerrorname_np(err);  // ENOEXEC: libuv has no name
  std::string msg = code + ": " + strerror(err) + ", " + syscall;
  if (!path.empty()) msg += " '" + path + "'";
  napi_value jcode, jmsg, error, jerrno, jsys, jpath;
  napi_create_string_utf8(env, code.c_str(), NAPI_AUTO_LENGTH, &jcode);
  napi_create_string_utf8(env, msg.c_str(), NAPI_AUTO_LENGTH, &jmsg);
  napi_create_error(env, jcode, jmsg, &error);
  napi_create_int32(env, -err, &jerrno);  // negative, like Node's fs errors
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &jsys);
  napi_set_named_property(env, error, "errno", jerrno);
  napi_set_named_property(env, error, "syscall", jsys);
  if (!path.empty()) {
    napi_create_string_utf8(env, path.c_str(), NAPI_AUTO_LENGTH, &jpath);
    napi_set_named_property(env, error, "path", jpath);
  }
  return error;
}

napi_value ThrowErrno(napi_env env, int err, const char* syscall, const std::string& path) {
  napi_throw(env, MakeErrnoError(env, err, syscall, path));
  return nullptr;
}

bool GetArgs(napi_env env, napi_callback_info info, size_t want, napi_value* argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return false;
  if (argc < want) {
    napi_throw_type_error(env, nullptr, "not enough arguments");
    return false;
  }
  return true;
}

bool GetString(napi_env env, napi_value v, std::string* out) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, nullptr, 0, &len) != napi_ok) {
    napi_throw_type_error(env, nullptr, "expected a string");
    return false;
  }
  out->resize(len + 1);
  napi_get_value_string_utf8(env, v, &(*out)[0], len + 1, &len);
  out->resize(len);
  if (out->find('\0') != std::string::npos) {
    napi_throw_type_error(env, nullptr, "string contains a NUL byte");
    return false;
  }
  return true;
}

bool GetUint32(napi_env env, napi_value v, uint32_t* out) {
  if (napi_get_value_uint32(env, v, out) != napi_ok) {
    napi_throw_type_error(env, nullptr, "expected a number");
    return false;
  }
  return true;
}

bool GetInt32(napi_env env, napi_value v, int32_t* out) {
  if (napi_get_value_int32(env, v, out) != napi_ok) {
    napi_throw_type_error(env, nullptr, "expected a number");
    return false;
  }
  return true;
}

// Interface names are shorter than IFNAMSIZ (16) bytes with their NUL.
const size_t IFNAMSIZ_FOR_CHECK = 16;

napi_value Undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

// The scopes a callback from the event loop (a uv handle's) needs to settle promises: a handle
// scope, and a callback scope so promise reactions (microtasks) run when it ends, as for any
// I/O callback.
class LoopCallbackScope {
 public:
  LoopCallbackScope(napi_env env, napi_ref resource, napi_async_context ctx) : env_(env) {
    napi_open_handle_scope(env, &hs_);
    napi_value res;
    napi_get_reference_value(env, resource, &res);
    napi_open_callback_scope(env, res, ctx, &cs_);
  }
  ~LoopCallbackScope() {
    napi_close_callback_scope(env_, cs_);
    napi_close_handle_scope(env_, hs_);
  }

 private:
  napi_env env_;
  napi_handle_scope hs_;
  napi_callback_scope cs_;
};

// ---- mknod -----------------------------------------------------------------------------

// mknod(path, mode, type: "c"|"b"|"p", major, minor)
napi_value Mknod(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!GetArgs(env, info, 5, argv)) return nullptr;
  std::string path, type;
  uint32_t mode, major, minor;
  if (!GetString(env, argv[0], &path) || !GetUint32(env, argv[1], &mode) || !GetString(env, argv[2], &type) ||
      !GetUint32(env, argv[3], &major) || !GetUint32(env, argv[4], &minor))
    return nullptr;
  mode_t fmt;
  if (type == "c") fmt = S_IFCHR;
  else if (type == "b") fmt = S_IFBLK;
  else if (type == "p") fmt = S_IFIFO;
  else {
    napi_throw_type_error(env, nullptr, "mknod: type must be \"c\", \"b\" or \"p\"");
    return nullptr;
  }
  if (mknod(path.c_str(), fmt | (mode & 07777), makedev(major, minor)) != 0) return ThrowErrno(env, errno, "mknod", path);
  return Undefined(env);
}

// ---- xattrs ----------------------------------------------------------------------------

napi_value Lsetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!GetArgs(env, info, 3, argv)) return nullptr;
  std::string path, name;
  if (!GetString(env, argv[0], &path) || !GetString(env, argv[1], &name)) return nullptr;
  void* data;
  size_t len;
  bool isBuf = false;
  napi_is_buffer(env, argv[2], &isBuf);
  if (!isBuf) {
    napi_throw_type_error(env, nullptr, "lsetxattr: value must be a Buffer");
    return nullptr;
  }
  CHECK_NAPI(env, napi_get_buffer_info(env, argv[2], &data, &len));
  if (lsetxattr(path.c_str(), name.c_str(), data, len, 0) != 0) return ThrowErrno(env, errno, "lsetxattr", path);
  return Undefined(env);
}

// Returns undefined when the attribute is absent (ENODATA).
napi_value Lgetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!GetArgs(env, info, 2, argv)) return nullptr;
  std::string path, name;
  if (!GetString(env, argv[0], &path) || !GetString(env, argv[1], &name)) return nullptr;
  std::vector<char> buf;
  for (;;) {  // size query then read; loop because the value may grow in between (ERANGE)
    ssize_t n = lgetxattr(path.c_str(), name.c_str(), nullptr, 0);
    if (n < 0) {
      if (errno == ENODATA) return Undefined(env);
      return ThrowErrno(env, errno, "lgetxattr", path);
    }
    buf.resize(n > 0 ? n : 1);
    n = lgetxattr(path.c_str(), name.c_str(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == ERANGE) continue;
      if (errno == ENODATA) return Undefined(env);
      return ThrowErrno(env, errno, "lgetxattr", path);
    }
    napi_value out;
    void* copy;
    CHECK_NAPI(env, napi_create_buffer_copy(env, n, buf.data(), &copy, &out));
    return out;
  }
}

napi_value Llistxattr(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv)) return nullptr;
  std::string path;
  if (!GetString(env, argv[0], &path)) return nullptr;
  std::vector<char> buf;
  ssize_t n;
  for (;;) {
    n = llistxattr(path.c_str(), nullptr, 0);
    if (n < 0) return ThrowErrno(env, errno, "llistxattr", path);
    buf.resize(n > 0 ? n : 1);
    n = llistxattr(path.c_str(), buf.data(), buf.size());
    if (n < 0 && errno == ERANGE) continue;
    if (n < 0) return ThrowErrno(env, errno, "llistxattr", path);
    break;
  }
  napi_value arr;
  CHECK_NAPI(env, napi_create_array(env, &arr));
  uint32_t idx = 0;
  for (ssize_t off = 0; off < n;) {  // names are NUL-separated
    size_t l = strnlen(buf.data() + off, n - off);
    napi_value s;
    napi_create_string_utf8(env, buf.data() + off, l, &s);
    napi_set_element(env, arr, idx++, s);
    off += l + 1;
  }
  return arr;
}

// ---- mount -----------------------------------------------------------------------------

// mount(source, target, fstype, flags, data)
napi_value Mount(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!GetArgs(env, info, 5, argv)) return nullptr;
  std::string source, target, fstype, data;
  uint32_t flags;
  if (!GetString(env, argv[0], &source) || !GetString(env, argv[1], &target) || !GetString(env, argv[2], &fstype) ||
      !GetUint32(env, argv[3], &flags) || !GetString(env, argv[4], &data))
    return nullptr;
  if (mount(source.c_str(), target.c_str(), fstype.empty() ? nullptr : fstype.c_str(), flags,
            data.empty() ? nullptr : data.c_str()) != 0)
    return ThrowErrno(env, errno, "mount", target);
  return Undefined(env);
}

// mountAt(dir, source, target, fstype, flags, data): mount(2) with relative paths (in data and
// target) resolved against `dir`. Overlay's options must fit in one page; relative lowerdirs
// ("l/SHORTID") keep 100+ layers under it, as Docker's overlay2 does. chdir() would move the
// whole Node process, so the mount runs on a short-lived thread that first unshares its
// filesystem context (CLONE_FS: cwd and root become per-thread); mounts are still shared.
struct MountAtArgs {
  std::string dir, source, target, fstype, data;
  unsigned long flags;
  int err;
  const char* syscall;
};

void* MountAtThread(void* p) {
  MountAtArgs* a = static_cast<MountAtArgs*>(p);
  a->err = 0;
  if (unshare(CLONE_FS) != 0) {
    a->err = errno;
    a->syscall = "unshare";
  } else if (chdir(a->dir.c_str()) != 0) {
    a->err = errno;
    a->syscall = "chdir";
  } else if (mount(a->source.c_str(), a->target.c_str(), a->fstype.empty() ? nullptr : a->fstype.c_str(), a->flags,
                   a->data.empty() ? nullptr : a->data.c_str()) != 0) {
    a->err = errno;
    a->syscall = "mount";
  }
  return nullptr;
}

napi_value MountAt(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!GetArgs(env, info, 6, argv)) return nullptr;
  MountAtArgs a;
  uint32_t flags;
  if (!GetString(env, argv[0], &a.dir) || !GetString(env, argv[1], &a.source) || !GetString(env, argv[2], &a.target) ||
      !GetString(env, argv[3], &a.fstype) || !GetUint32(env, argv[4], &flags) || !GetString(env, argv[5], &a.data))
    return nullptr;
  a.flags = flags;
  pthread_t t;
  int rc = pthread_create(&t, nullptr, MountAtThread, &a);
  if (rc != 0) return ThrowErrno(env, rc, "pthread_create", a.target);
  pthread_join(t, nullptr);
  if (a.err != 0) return ThrowErrno(env, a.err, a.syscall, a.syscall[0] == 'c' ? a.dir : a.target);
  return Undefined(env);
}

napi_value Umount2(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!GetArgs(env, info, 2, argv)) return nullptr;
  std::string target;
  uint32_t flags;
  if (!GetString(env, argv[0], &target) || !GetUint32(env, argv[1], &flags)) return nullptr;
  if (umount2(target.c_str(), flags) != 0) return ThrowErrno(env, errno, "umount2", target);
  return Undefined(env);
}

// ---- SOCK_SEQPACKET client ---------------------------------------------------------------
//
// Why not net.Socket: libuv's uv_guess_handle() reports a SEQPACKET socket as UNKNOWN, so
// `new net.Socket({ fd })` throws ERR_INVALID_FD_TYPE (checked by native.test.ts). And reading
// with a blocking recv() on the libuv thread pool would pin a pool thread per attached
// container and starve fs work. So the fd is non-blocking and watched with a uv_poll on the
// main loop: each recv() returns exactly one message, keeping conmon's message boundaries.

struct PendingRead {
  napi_deferred deferred;
  size_t maxLen;
};
struct PendingWrite {
  napi_deferred deferred;
  napi_ref buffer;  // keeps the JS Buffer alive until it is sent
  const char* data;
  size_t len;
};
struct FdState {
  napi_env env;
  int fd;
  uv_poll_t poll;
  napi_async_context asyncCtx;
  napi_ref resource;
  std::deque<PendingRead> reads;
  std::deque<PendingWrite> writes;
};

std::map<int, FdState*> g_fds;  // one watcher per fd: libuv allows only one poll handle per fd

void OnPoll(uv_poll_t* handle, int status, int events);

void UpdatePoll(FdState* st) {
  int ev = (st->reads.empty() ? 0 : UV_READABLE) | (st->writes.empty() ? 0 : UV_WRITABLE);
  if (ev) uv_poll_start(&st->poll, ev, OnPoll);
  else uv_poll_stop(&st->poll);
}

FdState* GetState(napi_env env, int fd) {
  auto it = g_fds.find(fd);
  if (it != g_fds.end()) return it->second;
  uv_loop_t* loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return nullptr;
  FdState* st = new FdState();
  st->env = env;
  st->fd = fd;
  if (uv_poll_init(loop, &st->poll, fd) != 0) {
    delete st;
    return nullptr;
  }
  st->poll.data = st;
  napi_value res, name;
  napi_create_object(env, &res);
  napi_create_string_utf8(env, "PierSeqpacket", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, res, name, &st->asyncCtx);
  napi_create_reference(env, res, 1, &st->resource);
  g_fds[fd] = st;
  return st;
}

// Try to finish queued operations without blocking. Returns after the first EAGAIN.
// Must run inside a handle scope; promise settlement happens in the caller's callback scope.
void Pump(FdState* st) {
  napi_env env = st->env;
  while (!st->reads.empty()) {
    PendingRead& r = st->reads.front();
    std::vector<char> buf(r.maxLen > 0 ? r.maxLen : 1);
    ssize_t n = recv(st->fd, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0 && errno == EINTR) continue;
    napi_deferred d = r.deferred;
    st->reads.pop_front();
    if (n < 0) {
      napi_reject_deferred(env, d, MakeErrnoError(env, errno, "recv", ""));
    } else if (n == 0) {
      napi_value nul;
      napi_get_null(env, &nul);
      napi_resolve_deferred(env, d, nul);  // EOF: peer closed
    } else {
      napi_value out;
      void* copy;
      napi_create_buffer_copy(env, n, buf.data(), &copy, &out);
      napi_resolve_deferred(env, d, out);
    }
  }
  while (!st->writes.empty()) {
    PendingWrite& w = st->writes.front();
    // MSG_NOSIGNAL: a closed peer must give EPIPE, not kill the daemon with SIGPIPE.
    ssize_t n = send(st->fd, w.data, w.len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0 && errno == EINTR) continue;
    PendingWrite done = w;
    st->writes.pop_front();
    napi_delete_reference(env, done.buffer);
    if (n < 0) napi_reject_deferred(env, done.deferred, MakeErrnoError(env, errno, "send", ""));
    else napi_resolve_deferred(env, done.deferred, Undefined(env));  // seqpacket sends are all-or-nothing
  }
  UpdatePoll(st);
}

void OnPoll(uv_poll_t* handle, int status, int events) {
  FdState* st = static_cast<FdState*>(handle->data);
  napi_env env = st->env;
  LoopCallbackScope scope(env, st->resource, st->asyncCtx);
  if (status < 0) {
    napi_value err = MakeErrnoError(env, -status, "poll", "");
    for (auto& r : st->reads) napi_reject_deferred(env, r.deferred, err);
    for (auto& w : st->writes) {
      napi_delete_reference(env, w.buffer);
      napi_reject_deferred(env, w.deferred, err);
    }
    st->reads.clear();
    st->writes.clear();
    UpdatePoll(st);
  } else {
    Pump(st);
  }
}

bool SetNonblockCloexec(int fd) {
  int fl = fcntl(fd, F_GETFL);
  return fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0 && fcntl(fd, F_SETFD, FD_CLOEXEC) == 0;
}

// seqpacketConnect(path): fd. sun_path holds only 107 bytes; longer paths go through the
// parent directory's /proc/self/fd entry (what podman does for conmon's attach socket).
napi_value SeqpacketConnect(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv)) return nullptr;
  std::string path;
  if (!GetString(env, argv[0], &path)) return nullptr;
  int dirfd = -1;
  std::string addrPath = path;
  struct sockaddr_un addr;
  if (path.size() >= sizeof(addr.sun_path)) {
    size_t slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
    std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    dirfd = open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) return ThrowErrno(env, errno, "open", dir);
    addrPath = "/proc/self/fd/" + std::to_string(dirfd) + "/" + base;
    if (addrPath.size() >= sizeof(addr.sun_path)) {
      close(dirfd);
      return ThrowErrno(env, ENAMETOOLONG, "connect", path);
    }
  }
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    int e = errno;
    if (dirfd >= 0) close(dirfd);
    return ThrowErrno(env, e, "socket", path);
  }
  memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, addrPath.c_str(), addrPath.size());
  int rc;
  do rc = connect(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr));
  while (rc != 0 && errno == EINTR);
  int e = errno;
  if (dirfd >= 0) close(dirfd);
  if (rc != 0) {
    close(fd);
    return ThrowErrno(env, e, "connect", path);
  }
  if (!SetNonblockCloexec(fd)) {
    e = errno;
    close(fd);
    return ThrowErrno(env, e, "fcntl", path);
  }
  napi_value out;
  napi_create_int32(env, fd, &out);
  return out;
}

// seqpacketRead(fd, maxLen): Promise<Buffer | null>  (null at EOF). Bytes of a message beyond
// maxLen are discarded by the kernel, so callers pass the largest message size they expect.
napi_value SeqpacketRead(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!GetArgs(env, info, 2, argv)) return nullptr;
  int32_t fd;
  uint32_t maxLen;
  if (!GetInt32(env, argv[0], &fd) || !GetUint32(env, argv[1], &maxLen)) return nullptr;
  FdState* st = GetState(env, fd);
  if (!st) return ThrowErrno(env, EBADF, "seqpacketRead", "");
  napi_value promise;
  napi_deferred d;
  CHECK_NAPI(env, napi_create_promise(env, &d, &promise));
  st->reads.push_back({d, maxLen});
  Pump(st);  // we are inside a JS call: settling now is fine, reactions run after it returns
  return promise;
}

// seqpacketWrite(fd, buf): Promise<void> — one message per call.
napi_value SeqpacketWrite(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!GetArgs(env, info, 2, argv)) return nullptr;
  int32_t fd;
  if (!GetInt32(env, argv[0], &fd)) return nullptr;
  bool isBuf = false;
  napi_is_buffer(env, argv[1], &isBuf);
  if (!isBuf) {
    napi_throw_type_error(env, nullptr, "seqpacketWrite: data must be a Buffer");
    return nullptr;
  }
  void* data;
  size_t len;
  CHECK_NAPI(env, napi_get_buffer_info(env, argv[1], &data, &len));
  FdState* st = GetState(env, fd);
  if (!st) return ThrowErrno(env, EBADF, "seqpacketWrite", "");
  napi_value promise;
  napi_deferred d;
  CHECK_NAPI(env, napi_create_promise(env, &d, &promise));
  napi_ref ref;
  napi_create_reference(env, argv[1], 1, &ref);
  st->writes.push_back({d, ref, static_cast<const char*>(data), len});
  Pump(st);
  return promise;
}

// shutdown(fd, how): shutdown(2); how is 0 (SHUT_RD), 1 (SHUT_WR) or 2 (SHUT_RDWR). A
// half-close (SHUT_WR) of conmon's attach socket is how a client's stdin EOF reaches the
// container. Callers wait for their pending writes first.
napi_value Shutdown(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!GetArgs(env, info, 2, argv)) return nullptr;
  int32_t fd, how;
  if (!GetInt32(env, argv[0], &fd) || !GetInt32(env, argv[1], &how)) return nullptr;
  if (shutdown(fd, how) != 0 && errno != ENOTCONN) return ThrowErrno(env, errno, "shutdown", "");
  return Undefined(env);
}

void OnPollClosed(uv_handle_t* h) { delete static_cast<FdState*>(h->data); }

// close(fd): pending reads resolve to null, pending writes reject with EBADF.
napi_value Close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv)) return nullptr;
  int32_t fd;
  if (!GetInt32(env, argv[0], &fd)) return nullptr;
  auto it = g_fds.find(fd);
  if (it != g_fds.end()) {
    FdState* st = it->second;
    g_fds.erase(it);
    napi_value nul;
    napi_get_null(env, &nul);
    for (auto& r : st->reads) napi_resolve_deferred(env, r.deferred, nul);
    for (auto& w : st->writes) {
      napi_delete_reference(env, w.buffer);
      napi_reject_deferred(env, w.deferred, MakeErrnoError(env, EBADF, "send", ""));
    }
    napi_async_destroy(env, st->asyncCtx);
    napi_delete_reference(env, st->resource);
    // uv_close removes the fd from epoll right away, so closing the fd after it is safe.
    uv_close(reinterpret_cast<uv_handle_t*>(&st->poll), OnPollClosed);
  }
  if (close(fd) != 0 && errno != EINTR) return ThrowErrno(env, errno, "close", "");
  return Undefined(env);
}

// ---- process spawning -------------------------------------------------------------------
//
// Why not child_process.spawn: libuv fork()s the whole daemon (copying its page tables, a cost
// that grows with its RSS) and blocks the event loop until the child has exec'd. glibc's
// posix_spawn clones with CLONE_VM|CLONE_VFORK instead: no page-table copy, a fraction of the
// time. Each child's exit is watched through a pidfd polled on the main loop and reaped with
// waitid(P_PIDFD). Nothing else reaps these children: libuv's SIGCHLD handler (uv__chld /
// uv__wait_children in libuv's src/unix/process.c) calls waitpid(process->pid, WNOHANG) only
// for the pids of its own uv_process_t handles, never waitpid(-1), so a child started here
// stays ours to reap (and libuv reaps its own children only).

struct ChildWatch {
  napi_env env;
  pid_t pid;
  int pidfd;
  uv_poll_t poll;
  napi_ref callback;
  napi_ref resource;
  napi_async_context asyncCtx;
};

// Running children by pid: a pid cannot be reused before it is reaped, and it is reaped only here.
std::map<pid_t, ChildWatch*> g_children;

// socketpair(): [parentFd, childFd], AF_UNIX SOCK_STREAM (what libuv's "pipe" stdio is), both
// close-on-exec: the child end reaches only the child that spawn() dup2s it into.
napi_value Socketpair(napi_env env, napi_callback_info info) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return ThrowErrno(env, errno, "socketpair", "");
  napi_value arr, a, b;
  CHECK_NAPI(env, napi_create_array_with_length(env, 2, &arr));
  napi_create_int32(env, sv[0], &a);
  napi_create_int32(env, sv[1], &b);
  napi_set_element(env, arr, 0, a);
  napi_set_element(env, arr, 1, b);
  return arr;
}

// A JS array, each element read with `get` (GetString, GetInt32); false after a TypeError.
template <typename T, typename Get>
bool GetArray(napi_env env, napi_value v, std::vector<T>* out, Get get) {
  bool isArray = false;
  napi_is_array(env, v, &isArray);
  if (!isArray) {
    napi_throw_type_error(env, nullptr, "expected an array");
    return false;
  }
  uint32_t n;
  napi_get_array_length(env, v, &n);
  out->resize(n);
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    napi_get_element(env, v, i, &e);
    if (!get(env, e, &(*out)[i])) return false;
  }
  return true;
}

// argv/envp for posix_spawn: pointers into `v`, NULL-terminated.
std::vector<char*> CStrings(std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// The program execvp would run for `file`, looked up (as Node documents for spawn) in the PATH of
// the environment the child gets, or "/usr/bin:/bin" when that has none; posix_spawnp would use
// ours. Returns 0, or the errno execvp would fail with: EACCES when a match is not executable.
int FindProgram(const std::string& file, const std::vector<std::string>& envp, std::string* out) {
  if (file.empty()) return ENOENT;
  if (file.find('/') != std::string::npos) {
    *out = file;
    return 0;
  }
  std::string search = "/usr/bin:/bin";
  for (auto& e : envp)
    if (e.compare(0, 5, "PATH=") == 0) {
      search = e.substr(5);
      break;
    }
  int err = ENOENT;
  size_t start = 0;
  for (;;) {
    size_t end = search.find(':', start);
    std::string dir = search.substr(start, end == std::string::npos ? std::string::npos : end - start);
    std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + file;
    struct stat st;
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      if (access(candidate.c_str(), X_OK) == 0) {
        *out = candidate;
        return 0;
      }
      err = EACCES;
    }
    if (end == std::string::npos) return err;
    start = end + 1;
  }
}

void OnChildClosed(uv_handle_t* h) { delete static_cast<ChildWatch*>(h->data); }

void ReapBlocking(pid_t pid) {
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

// The pidfd is readable: the child has exited. Reap it, stop watching, tell JS (code, signal).
void OnChildPoll(uv_poll_t* handle, int status, int events) {
  ChildWatch* w = static_cast<ChildWatch*>(handle->data);
  siginfo_t si;
  memset(&si, 0, sizeof(si));
  int rc;
  const idtype_t pidfdType = static_cast<idtype_t>(3);  // P_PIDFD: in glibc's headers only since 2.36
  do rc = waitid(pidfdType, w->pidfd, &si, WEXITED | WNOHANG);
  while (rc < 0 && errno == EINTR);
  if (rc == 0 && si.si_pid == 0) return;  // still running: a spurious wakeup
  // rc < 0 (ECHILD) would mean another waiter reaped it: report it as ended, status unknown.
  g_children.erase(w->pid);
  uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), OnChildClosed);  // frees w later, in the loop
  close(w->pidfd);  // uv_close took it out of epoll already

  napi_env env = w->env;
  napi_handle_scope hs;
  napi_open_handle_scope(env, &hs);
  napi_value args[2], cb, res;
  napi_get_null(env, &args[0]);
  napi_get_null(env, &args[1]);
  if (rc == 0 && si.si_code == CLD_EXITED) {
    napi_create_int32(env, si.si_status, &args[0]);
  } else if (rc == 0 && (si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED)) {
    const char* abbrev = sigabbrev_np(si.si_status);
    std::string name = abbrev ? std::string("SIG") + abbrev : "SIG" + std::to_string(si.si_status);
    napi_create_string_utf8(env, name.c_str(), NAPI_AUTO_LENGTH, &args[1]);
  }
  napi_get_reference_value(env, w->callback, &cb);
  napi_get_reference_value(env, w->resource, &res);
  // make_callback runs the callback like any I/O callback: nextTicks and microtasks after it.
  if (napi_make_callback(env, w->asyncCtx, res, cb, 2, args, nullptr) == napi_pending_exception) {
    napi_value exc;
    napi_get_and_clear_last_exception(env, &exc);
    napi_fatal_exception(env, exc);  // an 'exit' listener threw: uncaughtException, as for Node's own
  }
  napi_async_destroy(env, w->asyncCtx);
  napi_delete_reference(env, w->callback);
  napi_delete_reference(env, w->resource);
  napi_close_handle_scope(env, hs);
}

// spawn(file, argv, envp, cwd | null, fds, setsid, onExit): pid.
// Child fd i is fds[i] (-1: /dev/null, read-write); every other fd is closed in the child.
// Every signal is reset to its default (Node ignores SIGPIPE, and an ignored disposition
// survives exec) and the signal mask emptied. setsid: a new session (Node's `detached`).
// An exec failure (ENOENT, EACCES, a bad cwd) throws with that errno, and the child is gone.
// onExit(code | null, signal | null) runs once, on the main loop, after the child is reaped.
napi_value Spawn(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  if (!GetArgs(env, info, 7, argv)) return nullptr;
  std::string file, cwd;
  std::vector<std::string> args, envs;
  std::vector<int32_t> fds;
  if (!GetString(env, argv[0], &file) || !GetArray(env, argv[1], &args, GetString) || !GetArray(env, argv[2], &envs, GetString))
    return nullptr;
  napi_valuetype t;
  napi_typeof(env, argv[3], &t);
  bool hasCwd = t != napi_null && t != napi_undefined;
  if (hasCwd && !GetString(env, argv[3], &cwd)) return nullptr;
  if (!GetArray(env, argv[4], &fds, GetInt32)) return nullptr;
  bool newSession = false;
  if (napi_get_value_bool(env, argv[5], &newSession) != napi_ok) {
    napi_throw_type_error(env, nullptr, "spawn: setsid must be a boolean");
    return nullptr;
  }
  napi_typeof(env, argv[6], &t);
  if (t != napi_function) {
    napi_throw_type_error(env, nullptr, "spawn: onExit must be a function");
    return nullptr;
  }
  uv_loop_t* loop;
  CHECK_NAPI(env, napi_get_uv_event_loop(env, &loop));

  std::string program;
  int err = FindProgram(file, envs, &program);
  if (err != 0) return ThrowErrno(env, err, "spawn", file);

  // The dup2s run in order: a source below fds.size() other than its own slot could be
  // overwritten by an earlier one (3→4 and 4→3), so such sources are first moved above the range.
  const int n = static_cast<int>(fds.size());
  std::vector<int> moved;
  for (int i = 0; i < n; i++) {
    if (fds[i] >= 0 && fds[i] < n && fds[i] != i) {
      int m = fcntl(fds[i], F_DUPFD_CLOEXEC, n);
      if (m < 0) {
        err = errno;
        for (int x : moved) close(x);
        return ThrowErrno(env, err, "fcntl", file);
      }
      moved.push_back(m);
      fds[i] = m;
    }
  }

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  int rc = 0;
  // adddup2 with source == target clears FD_CLOEXEC in the child (glibc >= 2.29), for "inherit".
  for (int i = 0; i < n && rc == 0; i++)
    rc = fds[i] < 0 ? posix_spawn_file_actions_addopen(&actions, i, "/dev/null", O_RDWR, 0)
                    : posix_spawn_file_actions_adddup2(&actions, fds[i], i);
  // Then every other fd is closed before exec, not left to close-on-exec: an fd the daemon
  // inherited without FD_CLOEXEC (from whoever started it) would otherwise reach every child,
  // and the child drops its copies of the daemon's fds (its API socket among them) at once
  // rather than when its exec is through (a child descheduled on a loaded machine, its parent
  // killed meanwhile, kept the socket taking connections nobody answered).
  if (rc == 0) rc = posix_spawn_file_actions_addclosefrom_np(&actions, n);
  if (rc == 0 && hasCwd) rc = posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  sigset_t all, none;
  sigfillset(&all);
  sigdelset(&all, SIGKILL);
  sigdelset(&all, SIGSTOP);
  // glibc keeps its two internal signals (32 and 33) out of sigfillset and refuses them in
  // sigaddset, and its spawn child sets them to SIG_IGN unless they are in this set; an ignored
  // signal survives exec, so every container process would start with them ignored. Their
  // bits are set by hand (the first word of a sigset_t holds signal n at bit n-1).
  all.__val[0] |= (1UL << (32 - 1)) | (1UL << (33 - 1));
  sigemptyset(&none);
  short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | (newSession ? POSIX_SPAWN_SETSID : 0);
  if (rc == 0) rc = posix_spawnattr_setflags(&attr, flags);
  if (rc == 0) rc = posix_spawnattr_setsigdefault(&attr, &all);
  if (rc == 0) rc = posix_spawnattr_setsigmask(&attr, &none);
  const char* step = "posix_spawnattr";
  pid_t pid = -1;
  if (rc == 0) {
    step = "spawn";
    std::vector<char*> cargv = CStrings(args), cenv = CStrings(envs);
    // Returns once the child has exec'd (vfork: when its exec lets go of our memory, a moment
    // before the kernel closes its close-on-exec fds). On an exec failure glibc reaps the
    // child itself before returning the error.
    rc = posix_spawn(&pid, program.c_str(), &actions, &attr, cargv.data(), cenv.data());
  }
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  for (int x : moved) close(x);
  if (rc != 0) return ThrowErrno(env, rc, step, file);

  // The child may already have exited: a pidfd can be opened on a zombie, and nobody but us reaps.
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));  // close-on-exec by itself
  ChildWatch* w = nullptr;
  if (pidfd < 0) {
    err = errno;
    step = "pidfd_open";
  } else {
    w = new ChildWatch();
    w->env = env;
    w->pid = pid;
    w->pidfd = pidfd;
    err = -uv_poll_init(loop, &w->poll, pidfd);
    step = "uv_poll_init";
    if (err == 0) {
      w->poll.data = w;
      err = -uv_poll_start(&w->poll, UV_READABLE, OnChildPoll);
      step = "uv_poll_start";
      if (err != 0) uv_close(reinterpret_cast<uv_handle_t*>(&w->poll), OnChildClosed);
    } else {
      delete w;
    }
    if (err != 0) close(pidfd);
  }
  if (err != 0) {  // cannot watch it: do not leave it running unwatched, nor a zombie
    kill(pid, SIGKILL);
    ReapBlocking(pid);
    return ThrowErrno(env, err, step, file);
  }
  napi_value res, name;
  napi_create_object(env, &res);
  napi_create_string_utf8(env, "PierChildProcess", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, res, name, &w->asyncCtx);
  napi_create_reference(env, res, 1, &w->resource);
  napi_create_reference(env, argv[6], 1, &w->callback);
  g_children[pid] = w;
  napi_value out;
  napi_create_int32(env, pid, &out);
  return out;
}

// childRef(pid, ref): whether a running child keeps the event loop alive (Node's ref/unref).
// A child that has already been reaped is ignored.
napi_value ChildRef(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!GetArgs(env, info, 2, argv)) return nullptr;
  int32_t pid;
  bool ref = true;
  if (!GetInt32(env, argv[0], &pid)) return nullptr;
  napi_get_value_bool(env, argv[1], &ref);
  auto it = g_children.find(pid);
  if (it != g_children.end()) {
    uv_handle_t* h = reinterpret_cast<uv_handle_t*>(&it->second->poll);
    if (ref) uv_ref(h);
    else uv_unref(h);
  }
  return Undefined(env);
}

// ---- chroot helpers for container file access (docker cp, export, commit) --------------
// Used only by the short-lived copy helper (container/copy-helper.ts), which runs in its own
// mount namespace (started under `unshare --mount`): it chroots into a container's rootfs and
// attaches the container's volumes with the new mount API, so every path it resolves after
// that stays inside the container's view, whatever symlinks the container plants.

// chroot(path): chroot(2) for the whole process (threads share the root; the caller chdirs).
napi_value Chroot(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv)) return nullptr;
  std::string dir;
  if (!GetString(env, argv[0], &dir)) return nullptr;
  if (chroot(dir.c_str()) != 0) return ThrowErrno(env, errno, "chroot", dir);
  return Undefined(env);
}

// openTree(path, recursive): open_tree(2) with OPEN_TREE_CLONE: a detached copy of the mount
// (tree) at path, as an fd, to be attached elsewhere with moveMount.
napi_value OpenTree(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!GetArgs(env, info, 2, argv)) return nullptr;
  std::string dir;
  bool recursive = false;
  if (!GetString(env, argv[0], &dir)) return nullptr;
  napi_get_value_bool(env, argv[1], &recursive);
  unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0);
  int fd = open_tree(AT_FDCWD, dir.c_str(), flags);
  if (fd < 0) return ThrowErrno(env, errno, "open_tree", dir);
  napi_value out;
  napi_create_int32(env, fd, &out);
  return out;
}

// mountSetReadonly(treeFd): mount_setattr(2) MOUNT_ATTR_RDONLY on a detached tree, recursively.
napi_value MountSetReadonly(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv)) return nullptr;
  int32_t fd;
  if (!GetInt32(env, argv[0], &fd)) return nullptr;
  struct mount_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.attr_set = MOUNT_ATTR_RDONLY;
  if (mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) != 0)
    return ThrowErrno(env, errno, "mount_setattr", "");
  return Undefined(env);
}

// moveMount(treeFd, targetFd): move_mount(2) attaching a detached tree onto the directory or
// file that targetFd (an O_PATH fd) refers to; no path is resolved here at all.
napi_value MoveMount(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!GetArgs(env, info, 2, argv)) return nullptr;
  int32_t from, to;
  if (!GetInt32(env, argv[0], &from) || !GetInt32(env, argv[1], &to)) return nullptr;
  if (move_mount(from, "", to, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
    return ThrowErrno(env, errno, "move_mount", "");
  return Undefined(env);
}

// createNetns(path): a new network namespace kept alive by a bind mount at `path` (what
// `unshare --net=<path> true` does, without two process starts). The namespace is entered only
// by a short-lived child that shares this process's memory (CLONE_VM|CLONE_VFORK, so the calling
// thread waits for it) and does nothing but unshare + mount: the daemon itself never enters it.
// The child's exit signal is 0, so libuv's SIGCHLD handling never sees it.
// The child never execs, so close-on-exec does nothing for it: it starts with a copy of every
// fd of the daemon (the API's listening socket among them) and, were the daemon killed while
// the child waits in unshare (it can wait on the kernel's namespace lock for as long as other
// namespaces take to be torn down), that copy would keep the socket taking connections that
// nobody answers. Its first act is to close them all; it needs none.
struct NetnsChild {
  const char* path;
  int err;
  const char* step;
};

static int NetnsChildMain(void* arg) {
  NetnsChild* c = static_cast<NetnsChild*>(arg);
  syscall(SYS_close_range, 0U, ~0U, 0U);
  if (unshare(CLONE_NEWNET) != 0) {
    c->err = errno;
    c->step = "unshare";
    return 1;
  }
  if (mount("/proc/self/ns/net", c->path, nullptr, MS_BIND, nullptr) != 0) {
    c->err = errno;
    c->step = "mount";
    return 1;
  }
  return 0;
}

napi_value CreateNetns(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv)) return nullptr;
  std::string path;
  if (!GetString(env, argv[0], &path)) return nullptr;
  int fd = open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0444);
  if (fd < 0) return ThrowErrno(env, errno, "open", path);
  close(fd);
  NetnsChild c = {path.c_str(), 0, ""};
  const size_t stack_size = 64 * 1024;
  char* stack = static_cast<char*>(malloc(stack_size));
  if (!stack) return ThrowErrno(env, ENOMEM, "malloc", path);
  pid_t pid = clone(NetnsChildMain, stack + stack_size, CLONE_VM | CLONE_VFORK, &c);
  int clone_err = errno;
  int status = 0;
  if (pid > 0) {
    while (waitpid(pid, &status, __WALL) < 0 && errno == EINTR) {
    }
  }
  free(stack);
  if (pid < 0) return ThrowErrno(env, clone_err, "clone", path);
  if (c.err != 0) {
    unlink(path.c_str());
    return ThrowErrno(env, c.err, c.step, path);
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    unlink(path.c_str());
    return ThrowErrno(env, EIO, "clone", path);
  }
  return Undefined(env);
}

// ---- rtnetlink (native/netlink.cc) ------------------------------------------------------
//
// netlinkConfigure(netnsPath, loopbackUp, links): Promise<void> and
// netlinkTeardown(netnsPath | "", hostIfs): Promise<void>. Each call runs on a thread of its
// own that ends with it, and settles its promise on the event loop through a uv_async. Not the
// event loop: deleting a veth waits in the kernel for RCU grace periods and the device's last
// references (18-60 ms measured here), while each request is answered in microseconds. Not
// libuv's thread pool either: a burst of container exits would hold its four threads for
// tens of milliseconds each, and every fs call and DNS lookup of pierd would queue behind them.
struct NetlinkWork {
  napi_env env;
  uv_async_t done;
  napi_async_context asyncCtx;
  napi_ref resource;
  napi_deferred deferred;
  bool configure;
  std::string netnsPath;
  bool loopbackUp;
  std::vector<pier_netlink::VethSpec> links;
  std::vector<std::string> names;
  pier_netlink::Failure failure;
  bool ok;
};

void* NetlinkThread(void* data) {
  NetlinkWork* w = static_cast<NetlinkWork*>(data);
  if (w->configure) {
    w->ok = pier_netlink::ConfigureSandbox(w->netnsPath, w->loopbackUp, w->links, &w->failure);
  } else {
    // Both halves run even when the first fails: a host end must not stay on its bridge because
    // the namespace file could not be removed. The first failure is the one reported.
    pier_netlink::Failure second;
    bool nsOk = w->netnsPath.empty() || pier_netlink::RemoveNetns(w->netnsPath, &w->failure);
    bool linksOk = pier_netlink::DeleteLinks(w->names, nsOk ? &w->failure : &second);
    w->ok = nsOk && linksOk;
  }
  uv_async_send(&w->done);  // the last touch of w on this thread
  return nullptr;
}

void FreeNetlinkWork(uv_handle_t* h) {
  delete static_cast<NetlinkWork*>(h->data);
}

void SettleNetlinkWork(napi_env env, NetlinkWork* w) {
  LoopCallbackScope scope(env, w->resource, w->asyncCtx);
  if (w->ok) {
    napi_resolve_deferred(env, w->deferred, Undefined(env));
  } else {
    napi_value err = MakeErrnoError(env, w->failure.err, w->failure.step.c_str(), w->failure.name);
    if (!w->failure.detail.empty()) {
      napi_value jdetail;
      napi_create_string_utf8(env, w->failure.detail.c_str(), NAPI_AUTO_LENGTH, &jdetail);
      napi_set_named_property(env, err, "detail", jdetail);
    }
    napi_reject_deferred(env, w->deferred, err);
  }
}

void OnNetlinkDone(uv_async_t* handle) {
  NetlinkWork* w = static_cast<NetlinkWork*>(handle->data);
  napi_env env = w->env;
  SettleNetlinkWork(env, w);  // its scopes end before the async context goes
  napi_async_destroy(env, w->asyncCtx);
  napi_delete_reference(env, w->resource);
  uv_close(reinterpret_cast<uv_handle_t*>(&w->done), FreeNetlinkWork);
}

napi_value StartNetlinkWork(napi_env env, NetlinkWork* w) {
  w->env = env;
  uv_loop_t* loop;
  napi_value promise, resource, name;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || napi_create_promise(env, &w->deferred, &promise) != napi_ok) {
    delete w;
    napi_throw_error(env, nullptr, "N-API call failed: netlink setup");
    return nullptr;
  }
  napi_create_object(env, &resource);
  napi_create_reference(env, resource, 1, &w->resource);
  napi_create_string_utf8(env, "pier:netlink", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, resource, name, &w->asyncCtx);
  uv_async_init(loop, &w->done, OnNetlinkDone);  // an active handle: keeps the loop alive until done
  w->done.data = w;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  // Signals stay with the main thread (libuv's handlers): the thread starts with all blocked.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_t t;
  int rc = pthread_create(&t, &attr, NetlinkThread, w);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    w->ok = false;
    w->failure.err = rc;
    w->failure.step = "start netlink thread";
    uv_async_send(&w->done);  // rejected on the loop, like any other failure
  }
  return promise;
}

bool GetNamedString(napi_env env, napi_value obj, const char* key, std::string* out) {
  napi_value v;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok) return false;
  if (!GetString(env, v, out)) return false;
  if (out->empty() || out->size() >= IFNAMSIZ_FOR_CHECK) {
    std::string msg = std::string("link.") + key + ": expected 1 to 15 characters, got \"" + *out + "\"";
    napi_throw_type_error(env, nullptr, msg.c_str());
    return false;
  }
  return true;
}

bool GetNamedUint32(napi_env env, napi_value obj, const char* key, uint32_t* out) {
  napi_value v;
  return napi_get_named_property(env, obj, key, &v) == napi_ok && GetUint32(env, v, out);
}

bool GetNamedIPv4(napi_env env, napi_value obj, const char* key, struct in_addr* out) {
  napi_value v;
  std::string s;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok || !GetString(env, v, &s)) return false;
  if (inet_pton(AF_INET, s.c_str(), out) != 1) {
    std::string msg = std::string("link.") + key + ": not an IPv4 address: \"" + s + "\"";
    napi_throw_type_error(env, nullptr, msg.c_str());
    return false;
  }
  return true;
}

bool GetVethSpec(napi_env env, napi_value obj, pier_netlink::VethSpec* l) {
  std::string mac;
  uint32_t prefixLen, mtu;
  napi_value v;
  bool defaultRoute = false;
  if (!GetNamedString(env, obj, "ifname", &l->ifname) || !GetNamedString(env, obj, "hostIf", &l->hostIf) ||
      !GetNamedString(env, obj, "bridge", &l->bridge) || !GetNamedIPv4(env, obj, "ip", &l->ip) ||
      !GetNamedIPv4(env, obj, "gateway", &l->gateway) || !GetNamedUint32(env, obj, "prefixLen", &prefixLen) ||
      !GetNamedUint32(env, obj, "mtu", &mtu))
    return false;
  if (napi_get_named_property(env, obj, "mac", &v) != napi_ok || !GetString(env, v, &mac)) return false;
  unsigned b[6];
  char tail;
  if (sscanf(mac.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) != 6) {
    napi_throw_type_error(env, nullptr, ("link.mac: not a MAC address: \"" + mac + "\"").c_str());
    return false;
  }
  for (int k = 0; k < 6; k++) l->mac[k] = static_cast<uint8_t>(b[k]);
  if (prefixLen > 32) {
    napi_throw_range_error(env, nullptr, "link.prefixLen: expected 0 to 32");
    return false;
  }
  l->prefixLen = static_cast<uint8_t>(prefixLen);
  l->mtu = mtu;
  if (napi_get_named_property(env, obj, "defaultRoute", &v) == napi_ok) napi_get_value_bool(env, v, &defaultRoute);
  l->defaultRoute = defaultRoute;
  return true;
}

bool GetArray(napi_env env, napi_value arr, uint32_t* len) {
  bool isArray = false;
  napi_is_array(env, arr, &isArray);
  if (!isArray || napi_get_array_length(env, arr, len) != napi_ok) {
    napi_throw_type_error(env, nullptr, "expected an array");
    return false;
  }
  return true;
}

napi_value NetlinkConfigure(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!GetArgs(env, info, 3, argv)) return nullptr;
  NetlinkWork* w = new NetlinkWork();
  w->configure = true;
  uint32_t n;
  if (!GetString(env, argv[0], &w->netnsPath) || !GetArray(env, argv[2], &n)) {
    delete w;
    return nullptr;
  }
  napi_get_value_bool(env, argv[1], &w->loopbackUp);
  w->links.resize(n);
  for (uint32_t k = 0; k < n; k++) {
    napi_value obj;
    if (napi_get_element(env, argv[2], k, &obj) != napi_ok || !GetVethSpec(env, obj, &w->links[k])) {
      delete w;
      return nullptr;
    }
  }
  return StartNetlinkWork(env, w);
}

napi_value NetlinkTeardown(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!GetArgs(env, info, 2, argv)) return nullptr;
  NetlinkWork* w = new NetlinkWork();
  w->configure = false;
  uint32_t n;
  if (!GetString(env, argv[0], &w->netnsPath) || !GetArray(env, argv[1], &n)) {
    delete w;
    return nullptr;
  }
  w->names.resize(n);
  for (uint32_t k = 0; k < n; k++) {
    napi_value v;
    if (napi_get_element(env, argv[1], k, &v) != napi_ok || !GetString(env, v, &w->names[k])) {
      delete w;
      return nullptr;
    }
  }
  return StartNetlinkWork(env, w);
}

// x32SyscallsWork(): whether this kernel runs x32-ABI system calls (CONFIG_X86_X32_ABI and not
// disabled at boot). Probed with getpid through the x32 syscall bit: a kernel without x32
// answers ENOSYS. Always false off x86_64.
napi_value X32SyscallsWork(napi_env env, napi_callback_info info) {
  bool works = false;
#if defined(__x86_64__)
  const long x32_bit = 0x40000000L;
  works = syscall(x32_bit | SYS_getpid) == (long)getpid();
#endif
  napi_value result;
  napi_get_boolean(env, works, &result);
  return result;
}

// mallocTrim(): malloc_trim(0), glibc's return of free heap memory to the kernel: free pages
// inside every arena (the main heap and the arena of each thread that ever allocated), not
// just the top of the main heap that free() trims by itself. pierd calls it once when it goes
// idle, after its full GC has handed V8's and Node's garbage back to malloc. Whether anything
// was released. Not glibc (musl): nothing to do, false.
napi_value MallocTrim(napi_env env, napi_callback_info info) {
  bool released = false;
#if defined(__GLIBC__)
  released = malloc_trim(0) != 0;
#endif
  napi_value result;
  napi_get_boolean(env, released, &result);
  return result;
}

// sealedCopy(path): a memfd holding the file's bytes, sealed against any change (write, grow,
// shrink, new seals), close-on-exec; its number. What is exec'd from it (a helper run as a
// container's first process) cannot be rewritten through /proc/<pid>/exe (CVE-2019-5736).
napi_value SealedCopy(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!GetArgs(env, info, 1, argv)) return nullptr;
  std::string path;
  if (!GetString(env, argv[0], &path)) return nullptr;
  int src = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (src < 0) return ThrowErrno(env, errno, "open", path);
  struct stat st;
  if (fstat(src, &st) != 0) {
    int e = errno;
    close(src);
    return ThrowErrno(env, e, "fstat", path);
  }
  int mfd = static_cast<int>(syscall(SYS_memfd_create, "pier-sealed", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (mfd < 0) {
    int e = errno;
    close(src);
    return ThrowErrno(env, e, "memfd_create", path);
  }
  off_t left = st.st_size;
  while (left > 0) {
    ssize_t n = sendfile(mfd, src, nullptr, static_cast<size_t>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = n < 0 ? errno : EIO;
      close(src);
      close(mfd);
      return ThrowErrno(env, e, "sendfile", path);
    }
    left -= n;
  }
  close(src);
  if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) != 0) {
    int e = errno;
    close(mfd);
    return ThrowErrno(env, e, "fcntl", path);
  }
  napi_value result;
  napi_create_int32(env, mfd, &result);
  return result;
}

// lowMemoryNotification(): V8's Isolate::LowMemoryNotification(), the one way to have V8
// shrink its heap rather than just collect it: full collections with "reduce memory
// footprint" set (compacting fragmented old-space pages, shrinking the young generation to
// its minimum) until nothing more is freed, then the freed pages handed back to the kernel.
// gc() (node --expose-gc) collects but keeps the pages, and V8's own memory reducer acts only
// some 8 s after a collection, if at all. pierd calls this once when it goes quiet after work
// (src/daemon/main.ts). The one call into V8's C++ API here: it needs the Node headers this
// addon is built against anyway, and the isolate of the calling (main) thread.
napi_value LowMemoryNotification(napi_env env, napi_callback_info info) {
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  if (isolate != nullptr) isolate->LowMemoryNotification();
  return nullptr;
}

napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"mknod", nullptr, Mknod, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"lsetxattr", nullptr, Lsetxattr, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"lgetxattr", nullptr, Lgetxattr, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"llistxattr", nullptr, Llistxattr, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"mount", nullptr, Mount, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"mountAt", nullptr, MountAt, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"umount2", nullptr, Umount2, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"seqpacketConnect", nullptr, SeqpacketConnect, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"seqpacketRead", nullptr, SeqpacketRead, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"seqpacketWrite", nullptr, SeqpacketWrite, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"close", nullptr, Close, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"shutdown", nullptr, Shutdown, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"chroot", nullptr, Chroot, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"openTree", nullptr, OpenTree, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"mountSetReadonly", nullptr, MountSetReadonly, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"moveMount", nullptr, MoveMount, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"createNetns", nullptr, CreateNetns, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"netlinkConfigure", nullptr, NetlinkConfigure, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"netlinkTeardown", nullptr, NetlinkTeardown, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"sealedCopy", nullptr, SealedCopy, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"x32SyscallsWork", nullptr, X32SyscallsWork, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"mallocTrim", nullptr, MallocTrim, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"lowMemoryNotification", nullptr, LowMemoryNotification, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"socketpair", nullptr, Socketpair, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"spawn", nullptr, Spawn, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"childRef", nullptr, ChildRef, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
