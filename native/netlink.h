// rtnetlink operations for a container's network namespace (the per-container half of Pier's
// networking): no N-API here, so the calls can run on a worker thread; pier_native.cc wraps them.
#pragma once

#include <netinet/in.h>
#include <stdint.h>

#include <string>
#include <vector>

namespace pier_netlink {

// One veth pair: `ifname` in the container's namespace (with `mac`, the address and maybe the
// default route), `hostIf` in pierd's namespace, enslaved to `bridge`. Both ends get `mtu`.
struct VethSpec {
  std::string ifname, hostIf, bridge;
  uint8_t mac[6];
  struct in_addr ip;
  uint8_t prefixLen;
  struct in_addr gateway;
  uint32_t mtu;
  bool defaultRoute;
};

// Why an operation failed: errno, the step that failed ("create veth", "add address", …), the
// object it was about (an interface or a path) and the kernel's own words when it gave some
// (netlink extended ack, e.g. "Unknown device type").
struct Failure {
  int err = 0;
  std::string step;
  std::string name;
  std::string detail;
};

// Configures the namespace bound at `netnsPath`: loopback up when `loopbackUp`, then each link
// (veth pair, host end on its bridge and up, container end with its MAC, MTU, address, up), then
// the default route of the link that has `defaultRoute`. Stops at the first failure and leaves
// what was made for the caller's teardown (deleting the host ends removes the pairs).
bool ConfigureSandbox(const std::string& netnsPath, bool loopbackUp, const std::vector<VethSpec>& links, Failure* f);

// Deletes interfaces of pierd's namespace by name; one that does not exist is fine.
bool DeleteLinks(const std::vector<std::string>& names, Failure* f);

// Unmounts the namespace file (lazily when busy) and removes it; missing is fine.
bool RemoveNetns(const std::string& netnsPath, Failure* f);

}  // namespace pier_netlink
