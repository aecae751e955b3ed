// rtnetlink for container networking, without ip(8): see netlink.h.
//
// How the container's namespace is reached: the veth is created by a socket in pierd's own
// namespace, with its container end born directly in the container's namespace (IFLA_NET_NS_FD
// in the peer's attributes), already named, with its MAC and MTU — so a container end called
// eth0 never meets the host's eth0, and the host end is enslaved and up in the same message.
// What must be done inside the namespace (loopback, address, route) goes through a second
// netlink socket that belongs to it: a socket stays bound to the namespace it was created in, so
// a short-lived thread setns()es into the namespace file, opens the socket and exits. No thread
// of the daemon ever stays in (or returns from) another namespace, and no process is started.
//
// Every call blocks only on the kernel: a request and its ACK on a local socket (a receive
// timeout bounds it), plus what the kernel makes the caller wait for — deleting a veth waits
// for RCU grace periods and the device's last references (tens of ms) — which is why
// pier_native.cc runs each call on a thread of its own, never on the event loop or libuv's pool.

#include "netlink.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace pier_netlink {
namespace {

bool Fail(Failure* f, int err, const char* step, const std::string& name, const std::string& detail = "") {
  f->err = err;
  f->step = step;
  f->name = name;
  f->detail = detail;
  return false;
}

// A netlink request under construction: the header, a fixed part (ifinfomsg, ifaddrmsg,
// rtmsg), then attributes, nested ones included. Our messages are a few hundred bytes.
class Msg {
 public:
  Msg(uint16_t type, uint16_t flags) {
    memset(buf_, 0, sizeof(buf_));
    Hdr()->nlmsg_type = type;
    Hdr()->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
    len_ = NLMSG_HDRLEN;
  }
  struct nlmsghdr* Hdr() { return reinterpret_cast<struct nlmsghdr*>(buf_); }
  // Appends `n` bytes (zeroed when data is null), 4-byte aligned; returns where they went.
  void* Put(const void* data, size_t n) {
    size_t at = NLMSG_ALIGN(len_);
    if (at + NLMSG_ALIGN(n) > sizeof(buf_)) {
      overflow_ = true;
      return scratch_;
    }
    if (data) memcpy(buf_ + at, data, n);
    len_ = at + NLMSG_ALIGN(n);
    return buf_ + at;
  }
  void Attr(uint16_t type, const void* data, size_t n) {
    struct rtattr a = {static_cast<unsigned short>(RTA_LENGTH(n)), type};
    Put(&a, sizeof(a));
    // The attribute's payload follows its header directly (RTA_LENGTH(0) == sizeof(rtattr)).
    Put(data, n);
  }
  void Str(uint16_t type, const std::string& s) { Attr(type, s.c_str(), s.size() + 1); }
  void U32(uint16_t type, uint32_t v) { Attr(type, &v, sizeof(v)); }
  // A nested attribute: Begin returns its offset, End fixes its length once its content is in.
  size_t Begin(uint16_t type) {
    size_t at = NLMSG_ALIGN(len_);
    struct rtattr a = {0, type};
    Put(&a, sizeof(a));
    return at;
  }
  void End(size_t at) {
    if (!overflow_) reinterpret_cast<struct rtattr*>(buf_ + at)->rta_len = static_cast<unsigned short>(len_ - at);
  }
  size_t Len() {
    Hdr()->nlmsg_len = static_cast<uint32_t>(len_);
    return len_;
  }
  bool Overflow() const { return overflow_; }

 private:
  alignas(NLMSG_ALIGNTO) char buf_[2048];
  char scratch_[256];
  size_t len_;
  bool overflow_ = false;
};

// One NETLINK_ROUTE socket and its requests. Requests are strictly one at a time: send, then
// read until the kernel's ACK (or error) for that sequence number.
class Rtnl {
 public:
  ~Rtnl() {
    if (fd_ >= 0) close(fd_);
  }
  // Takes a socket made elsewhere (in another namespace) or opens one here.
  bool Open(Failure* f, int fd = -1) {
    fd_ = fd >= 0 ? fd : socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd_ < 0) return Fail(f, errno, "open netlink socket", "");
    int one = 1;
    // The kernel's own explanation of a refusal (extended ACK), and ACKs without our request echoed.
    setsockopt(fd_, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
    setsockopt(fd_, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
    // An ACK always comes; the bound is only so that a kernel stuck on its rtnl lock cannot
    // hold a worker thread forever.
    struct timeval tv = {10, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return true;
  }

  // Sends the request and waits for its ACK. Returns 0 or the errno the kernel answered, with
  // its extended-ACK message in *detail. A reply message (RTM_NEWLINK to an RTM_GETLINK) gives
  // its interface index in *ifindex.
  int Request(Msg& m, std::string* detail, int* ifindex = nullptr) {
    if (m.Overflow()) return EMSGSIZE;
    m.Hdr()->nlmsg_seq = ++seq_;
    size_t len = m.Len();
    struct sockaddr_nl kernel = {};
    kernel.nl_family = AF_NETLINK;
    ssize_t n;
    do n = sendto(fd_, m.Hdr(), len, 0, reinterpret_cast<struct sockaddr*>(&kernel), sizeof(kernel));
    while (n < 0 && errno == EINTR);
    if (n < 0) return errno;
    // A link's description (a GETLINK reply) is a few KiB; the page-sized datagrams the kernel
    // sends fit with room to spare. A truncated one is an error, never half-parsed.
    alignas(NLMSG_ALIGNTO) char buf[32768];
    for (;;) {
      do n = recv(fd_, buf, sizeof(buf), MSG_TRUNC);
      while (n < 0 && errno == EINTR);
      if (n < 0) return errno == EAGAIN ? ETIMEDOUT : errno;
      if (static_cast<size_t>(n) > sizeof(buf)) return EMSGSIZE;
      int len_left = static_cast<int>(n);
      for (struct nlmsghdr* h = reinterpret_cast<struct nlmsghdr*>(buf); NLMSG_OK(h, len_left); h = NLMSG_NEXT(h, len_left)) {
        if (h->nlmsg_seq != seq_) continue;  // a late answer to something earlier
        if (h->nlmsg_type == RTM_NEWLINK && ifindex && h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct ifinfomsg))) {
          *ifindex = static_cast<struct ifinfomsg*>(NLMSG_DATA(h))->ifi_index;
        } else if (h->nlmsg_type == NLMSG_ERROR) {
          if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr))) return EBADMSG;
          struct nlmsgerr* e = static_cast<struct nlmsgerr*>(NLMSG_DATA(h));
          if (e->error != 0 && (h->nlmsg_flags & NLM_F_ACK_TLVS)) ReadExtAck(h, e, detail);
          return -e->error;
        }
      }
    }
  }

 private:
  static void ReadExtAck(struct nlmsghdr* h, struct nlmsgerr* e, std::string* detail) {
    // After the nlmsgerr: the request's header only (NLM_F_CAPPED) or the whole request, then TLVs.
    size_t skip = sizeof(*e) + ((h->nlmsg_flags & NLM_F_CAPPED) ? 0 : e->msg.nlmsg_len - sizeof(e->msg));
    size_t total = h->nlmsg_len - NLMSG_HDRLEN;
    if (skip >= total) return;
    struct rtattr* a = reinterpret_cast<struct rtattr*>(reinterpret_cast<char*>(e) + NLMSG_ALIGN(skip));
    int left = static_cast<int>(total - NLMSG_ALIGN(skip));
    for (; RTA_OK(a, left); a = RTA_NEXT(a, left)) {
      if (a->rta_type == NLMSGERR_ATTR_MSG && RTA_PAYLOAD(a) > 1) {
        const char* s = static_cast<const char*>(RTA_DATA(a));
        *detail = std::string(s, strnlen(s, RTA_PAYLOAD(a)));
      }
    }
  }

  int fd_ = -1;
  uint32_t seq_ = 0;
};

// ---- opening a socket inside the container's namespace --------------------------------------

struct NsSocketArgs {
  int nsfd;
  int fd;
  int err;
  const char* step;
};

void* NsSocketThread(void* p) {
  NsSocketArgs* a = static_cast<NsSocketArgs*>(p);
  if (setns(a->nsfd, CLONE_NEWNET) != 0) {
    a->err = errno;
    a->step = "enter network namespace";
    return nullptr;
  }
  a->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (a->fd < 0) {
    a->err = errno;
    a->step = "open netlink socket in";
  }
  return nullptr;  // the thread, and its view of the namespace, end here
}

// A NETLINK_ROUTE socket of the namespace `nsfd` refers to (the file at `path`).
bool OpenInNamespace(int nsfd, const std::string& path, Rtnl* sock, Failure* f) {
  NsSocketArgs a = {nsfd, -1, 0, ""};
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  pthread_t t;
  int rc = pthread_create(&t, &attr, NsSocketThread, &a);
  pthread_attr_destroy(&attr);
  if (rc == 0) pthread_join(t, nullptr);
  if (rc != 0) return Fail(f, rc, "start thread for network namespace", path);
  if (a.err != 0) return Fail(f, a.err, a.step, path);
  return sock->Open(f, a.fd);
}

// ---- requests --------------------------------------------------------------------------

struct ifinfomsg LinkHeader(int index, unsigned flags) {
  struct ifinfomsg i = {};
  i.ifi_family = AF_UNSPEC;
  i.ifi_index = index;
  i.ifi_flags = flags;
  i.ifi_change = flags;
  return i;
}

// The index of an interface of the socket's namespace, by name.
bool LinkIndex(Rtnl& s, const std::string& name, int* index, const char* step, Failure* f) {
  Msg m(RTM_GETLINK, 0);
  struct ifinfomsg i = LinkHeader(0, 0);
  m.Put(&i, sizeof(i));
  m.Str(IFLA_IFNAME, name);
  m.U32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);  // only the index is wanted: keep the reply small
  std::string detail;
  *index = 0;
  int err = s.Request(m, &detail, index);
  if (err == 0 && *index <= 0) err = ENODEV;
  return err == 0 || Fail(f, err, step, name, detail);
}

bool SetUp(Rtnl& s, int index, const std::string& name, Failure* f) {
  Msg m(RTM_SETLINK, 0);
  struct ifinfomsg i = LinkHeader(index, IFF_UP);
  m.Put(&i, sizeof(i));
  if (index == 0) m.Str(IFLA_IFNAME, name);
  std::string detail;
  int err = s.Request(m, &detail);
  return err == 0 || Fail(f, err, "set link up", name, detail);
}

// The pair, as `ip link add HOST mtu M master BR up type veth peer name IF address MAC mtu M
// netns NS` would make it: the host end enslaved and up, the container end (down) in its namespace.
bool CreateVeth(Rtnl& host, const VethSpec& l, int bridgeIndex, int nsfd, Failure* f) {
  Msg m(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  struct ifinfomsg i = LinkHeader(0, IFF_UP);
  m.Put(&i, sizeof(i));
  m.Str(IFLA_IFNAME, l.hostIf);
  m.U32(IFLA_MTU, l.mtu);
  m.U32(IFLA_MASTER, static_cast<uint32_t>(bridgeIndex));
  size_t info = m.Begin(IFLA_LINKINFO);
  m.Str(IFLA_INFO_KIND, "veth");
  size_t data = m.Begin(IFLA_INFO_DATA);
  size_t peer = m.Begin(VETH_INFO_PEER);
  // Not up yet: veth_newlink configures the peer before linking the pair, and opening a veth
  // without its peer is ENOTCONN. It goes up once it has its address.
  struct ifinfomsg pi = LinkHeader(0, 0);
  m.Put(&pi, sizeof(pi));
  m.Str(IFLA_IFNAME, l.ifname);
  m.Attr(IFLA_ADDRESS, l.mac, sizeof(l.mac));
  m.U32(IFLA_MTU, l.mtu);
  m.U32(IFLA_NET_NS_FD, static_cast<uint32_t>(nsfd));
  m.End(peer);
  m.End(data);
  m.End(info);
  std::string detail;
  int err = host.Request(m, &detail);
  return err == 0 || Fail(f, err, "create veth", l.hostIf + " (" + l.ifname + " in the container)", detail);
}

// `ip link set HOST type bridge_slave hairpin on`: the bridge may send a frame back out of the
// port it came in by. pierd DNATs a published port as the frame enters the bridge
// (br_netfilter), so a container that dials its own published port through the gateway is
// answered only this way (dockerd serves that too). Not part of the create: the kernel applies
// a port's bridge settings only to a device that already is one.
bool SetHairpin(Rtnl& host, const VethSpec& l, Failure* f) {
  Msg m(RTM_NEWLINK, 0);
  struct ifinfomsg i = LinkHeader(0, 0);
  m.Put(&i, sizeof(i));
  m.Str(IFLA_IFNAME, l.hostIf);
  size_t info = m.Begin(IFLA_LINKINFO);
  m.Str(IFLA_INFO_SLAVE_KIND, "bridge");
  size_t data = m.Begin(IFLA_INFO_SLAVE_DATA);
  uint8_t on = 1;
  m.Attr(IFLA_BRPORT_MODE, &on, sizeof(on));
  m.End(data);
  m.End(info);
  std::string detail;
  int err = host.Request(m, &detail);
  return err == 0 || Fail(f, err, "set hairpin mode on", l.hostIf, detail);
}

// `ip addr add IP/LEN dev IF`: local and peer address the same, no broadcast, as ip(8) sends it.
bool AddAddress(Rtnl& ns, const VethSpec& l, int index, Failure* f) {
  Msg m(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
  struct ifaddrmsg a = {};
  a.ifa_family = AF_INET;
  a.ifa_prefixlen = l.prefixLen;
  a.ifa_scope = RT_SCOPE_UNIVERSE;
  a.ifa_index = static_cast<uint32_t>(index);
  m.Put(&a, sizeof(a));
  m.Attr(IFA_LOCAL, &l.ip, sizeof(l.ip));
  m.Attr(IFA_ADDRESS, &l.ip, sizeof(l.ip));
  std::string detail;
  int err = ns.Request(m, &detail);
  return err == 0 || Fail(f, err, "add address", l.ifname, detail);
}

// `ip route add default via GW dev IF` (main table, proto boot, as ip(8) sends it).
bool AddDefaultRoute(Rtnl& ns, const VethSpec& l, int index, Failure* f) {
  Msg m(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
  struct rtmsg r = {};
  r.rtm_family = AF_INET;
  r.rtm_table = RT_TABLE_MAIN;
  r.rtm_protocol = RTPROT_BOOT;
  r.rtm_scope = RT_SCOPE_UNIVERSE;
  r.rtm_type = RTN_UNICAST;
  m.Put(&r, sizeof(r));
  m.Attr(RTA_GATEWAY, &l.gateway, sizeof(l.gateway));
  m.U32(RTA_OIF, static_cast<uint32_t>(index));
  std::string detail;
  int err = ns.Request(m, &detail);
  return err == 0 || Fail(f, err, "add default route via", l.ifname, detail);
}

// The namespace file stays open throughout: it is how the thread enters the namespace and how
// each veth's container end is created there.
bool ConfigureLinks(int nsfd, const std::string& netnsPath, bool loopbackUp, const std::vector<VethSpec>& links, Failure* f) {
  Rtnl ns, host;
  if (!OpenInNamespace(nsfd, netnsPath, &ns, f)) return false;
  if (loopbackUp && !SetUp(ns, 0, "lo", f)) return false;
  if (links.empty()) return true;
  if (!host.Open(f)) return false;
  std::vector<int> indexes;
  for (const VethSpec& l : links) {
    int bridge = 0, index = 0;
    if (!LinkIndex(host, l.bridge, &bridge, "find bridge", f) || !CreateVeth(host, l, bridge, nsfd, f) || !SetHairpin(host, l, f) ||
        !LinkIndex(ns, l.ifname, &index, "find container interface", f) || !AddAddress(ns, l, index, f) ||
        !SetUp(ns, index, l.ifname, f))
      return false;
    indexes.push_back(index);
  }
  for (size_t k = 0; k < links.size(); k++) {
    if (links[k].defaultRoute && !AddDefaultRoute(ns, links[k], indexes[k], f)) return false;
  }
  return true;
}

}  // namespace

bool ConfigureSandbox(const std::string& netnsPath, bool loopbackUp, const std::vector<VethSpec>& links, Failure* f) {
  int nsfd = open(netnsPath.c_str(), O_RDONLY | O_CLOEXEC);
  if (nsfd < 0) return Fail(f, errno, "open network namespace", netnsPath);
  bool ok = ConfigureLinks(nsfd, netnsPath, loopbackUp, links, f);
  close(nsfd);
  return ok;
}

bool DeleteLinks(const std::vector<std::string>& names, Failure* f) {
  if (names.empty()) return true;
  Rtnl host;
  if (!host.Open(f)) return false;
  for (const std::string& name : names) {
    Msg m(RTM_DELLINK, 0);
    struct ifinfomsg i = LinkHeader(0, 0);
    m.Put(&i, sizeof(i));
    m.Str(IFLA_IFNAME, name);
    std::string detail;
    int err = host.Request(m, &detail);
    if (err != 0 && err != ENODEV) return Fail(f, err, "delete link", name, detail);
  }
  return true;
}

bool RemoveNetns(const std::string& netnsPath, Failure* f) {
  // Not a mount point (EINVAL) or gone (ENOENT): nothing to unmount. Busy: let it go lazily.
  if (umount2(netnsPath.c_str(), UMOUNT_NOFOLLOW) != 0 && errno == EBUSY &&
      umount2(netnsPath.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) != 0 && errno != EINVAL && errno != ENOENT)
    return Fail(f, errno, "unmount network namespace", netnsPath);
  if (unlink(netnsPath.c_str()) != 0 && errno != ENOENT) return Fail(f, errno, "remove network namespace", netnsPath);
  return true;
}

}  // namespace pier_netlink
