import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Command } from "commander";
import { addContainerFlags, buildCreateRequest, type ContainerFlags } from "./container-options.js";
import {
  FlagError,
  effectiveCaps,
  parseDevice,
  parseExtraHost,
  parseMount,
  parsePortSpec,
  parsePublish,
  parseRestartPolicy,
  parseUlimit,
  parseVolumeSpec,
  parseVolumes,
} from "./flag-parsers.js";

/** Parse `create` arguments exactly as the CLI does and build the body. */
function createBody(args: string[], env: NodeJS.ProcessEnv = {}, forRun = false) {
  const cmd = addContainerFlags(new Command("create").argument("<image>").argument("[command...]").passThroughOptions(), forRun)
    .helpOption("--help")
    .exitOverride();
  let result: ReturnType<typeof buildCreateRequest> | undefined;
  cmd.action((image: string, rest: string[], flags: ContainerFlags) => {
    result = buildCreateRequest(flags, image, rest, { forRun, env, cwd: "/work" });
  });
  cmd.parse(args, { from: "user" });
  return result!;
}

// Bodies the docker CLI 28.2.2 sent for the same command lines (captured through a proxy).
const DOCKER_DEFAULT_BODY =
  '{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":true,"AttachStderr":true,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":null,"Image":"busybox","Volumes":{},"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{},"HostConfig":{"Binds":null,"ContainerIDFile":"","LogConfig":{"Type":"","Config":{}},"NetworkMode":"default","PortBindings":{},"RestartPolicy":{"Name":"no","MaximumRetryCount":0},"AutoRemove":false,"VolumeDriver":"","VolumesFrom":null,"ConsoleSize":[0,0],"CapAdd":null,"CapDrop":null,"CgroupnsMode":"","Dns":[],"DnsOptions":[],"DnsSearch":[],"ExtraHosts":null,"GroupAdd":null,"IpcMode":"","Cgroup":"","Links":null,"OomScoreAdj":0,"PidMode":"","Privileged":false,"PublishAllPorts":false,"ReadonlyRootfs":false,"SecurityOpt":null,"UTSMode":"","UsernsMode":"","ShmSize":0,"Isolation":"","CpuShares":0,"Memory":0,"NanoCpus":0,"CgroupParent":"","BlkioWeight":0,"BlkioWeightDevice":[],"BlkioDeviceReadBps":[],"BlkioDeviceWriteBps":[],"BlkioDeviceReadIOps":[],"BlkioDeviceWriteIOps":[],"CpuPeriod":0,"CpuQuota":0,"CpuRealtimePeriod":0,"CpuRealtimeRuntime":0,"CpusetCpus":"","CpusetMems":"","Devices":[],"DeviceCgroupRules":null,"DeviceRequests":null,"MemoryReservation":0,"MemorySwap":0,"MemorySwappiness":-1,"OomKillDisable":false,"PidsLimit":0,"Ulimits":[],"CpuCount":0,"CpuPercent":0,"IOMaximumIOps":0,"IOMaximumBandwidth":0,"MaskedPaths":null,"ReadonlyPaths":null},"NetworkingConfig":{"EndpointsConfig":{"default":{"IPAMConfig":null,"Links":null,"Aliases":null,"MacAddress":"","DriverOpts":null,"GwPriority":0,"NetworkID":"","EndpointID":"","Gateway":"","IPAddress":"","IPPrefixLen":0,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"DNSNames":null}}}}';

const DOCKER_FULL_ARGS = [
  "-i", "-t", "-e", "A=1", "-e", "B", "-w", "/tmp", "-u", "1000:1000", "--entrypoint", "/bin/sh", "-l", "x=y", "-l", "z",
  "--cidfile", "/tmp/pier-cli-cid1", "--pull", "never", "-v", "vol1:/data:ro", "-v", "/tmp:/host:ro,rshared", "-v", "/anon",
  "--mount", "type=bind,source=/tmp,target=/m1,readonly", "--mount", "type=volume,source=v2,target=/m2",
  "--mount", "type=tmpfs,target=/m3,tmpfs-size=64m", "--tmpfs", "/run:rw,size=10m", "--read-only", "--init", "-m", "64m",
  "--memory-swap", "128m", "--memory-reservation", "32m", "--cpus", "1.5", "-c", "512", "--cpuset-cpus", "0", "--pids-limit", "100",
  "--ulimit", "nofile=1024:2048", "--ulimit", "nproc=50", "--cap-add", "NET_ADMIN", "--cap-drop", "MKNOD",
  "--security-opt", "no-new-privileges", "--group-add", "10", "--shm-size", "128m", "--sysctl", "net.ipv4.ip_forward=1",
  "--device", "/dev/null:/dev/xnull:rwm", "--oom-kill-disable", "--restart", "on-failure:3", "--network", "none", "-h", "myhost",
  "--domainname", "example.com", "--stop-signal", "SIGUSR1", "--stop-timeout", "20", "-p", "8080:80", "-p", "127.0.0.1:9000-9001:90-91/udp",
  "-p", "5000", "-P", "--health-cmd", "true", "--health-interval", "5s", "--health-timeout", "2s", "--health-retries", "3",
  "--health-start-period", "1s", "--add-host", "h1:1.2.3.4", "--dns", "8.8.8.8", "busybox", "-c", "echo hi",
];
const DOCKER_FULL_BODY =
  '{"Hostname":"myhost","Domainname":"example.com","User":"1000:1000","AttachStdin":true,"AttachStdout":true,"AttachStderr":true,"ExposedPorts":{"5000/tcp":{},"80/tcp":{},"90/udp":{},"91/udp":{}},"Tty":true,"OpenStdin":true,"StdinOnce":true,"Env":["A=1","B"],"Cmd":["-c","echo hi"],"Healthcheck":{"Test":["CMD-SHELL","true"],"Interval":5000000000,"Timeout":2000000000,"StartPeriod":1000000000,"Retries":3},"Image":"busybox","Volumes":{"/anon":{}},"WorkingDir":"/tmp","Entrypoint":["/bin/sh"],"OnBuild":null,"Labels":{"x":"y","z":""},"StopSignal":"SIGUSR1","StopTimeout":20,"HostConfig":{"Binds":["vol1:/data:ro","/tmp:/host:ro,rshared"],"ContainerIDFile":"/tmp/pier-cli-cid1","LogConfig":{"Type":"","Config":{}},"NetworkMode":"none","PortBindings":{"5000/tcp":[{"HostIp":"","HostPort":""}],"80/tcp":[{"HostIp":"","HostPort":"8080"}],"90/udp":[{"HostIp":"127.0.0.1","HostPort":"9000"}],"91/udp":[{"HostIp":"127.0.0.1","HostPort":"9001"}]},"RestartPolicy":{"Name":"on-failure","MaximumRetryCount":3},"AutoRemove":false,"VolumeDriver":"","VolumesFrom":null,"ConsoleSize":[0,0],"CapAdd":["CAP_NET_ADMIN"],"CapDrop":["CAP_MKNOD"],"CgroupnsMode":"","Dns":["8.8.8.8"],"DnsOptions":[],"DnsSearch":[],"ExtraHosts":["h1:1.2.3.4"],"GroupAdd":["10"],"IpcMode":"","Cgroup":"","Links":null,"OomScoreAdj":0,"PidMode":"","Privileged":false,"PublishAllPorts":true,"ReadonlyRootfs":true,"SecurityOpt":["no-new-privileges"],"Tmpfs":{"/run":"rw,size=10m"},"UTSMode":"","UsernsMode":"","ShmSize":134217728,"Sysctls":{"net.ipv4.ip_forward":"1"},"Isolation":"","CpuShares":512,"Memory":67108864,"NanoCpus":1500000000,"CgroupParent":"","BlkioWeight":0,"BlkioWeightDevice":[],"BlkioDeviceReadBps":[],"BlkioDeviceWriteBps":[],"BlkioDeviceReadIOps":[],"BlkioDeviceWriteIOps":[],"CpuPeriod":0,"CpuQuota":0,"CpuRealtimePeriod":0,"CpuRealtimeRuntime":0,"CpusetCpus":"0","CpusetMems":"","Devices":[{"PathOnHost":"/dev/null","PathInContainer":"/dev/xnull","CgroupPermissions":"rwm"}],"DeviceCgroupRules":null,"DeviceRequests":null,"MemoryReservation":33554432,"MemorySwap":134217728,"MemorySwappiness":-1,"OomKillDisable":true,"PidsLimit":100,"Ulimits":[{"Name":"nofile","Hard":2048,"Soft":1024},{"Name":"nproc","Hard":50,"Soft":50}],"CpuCount":0,"CpuPercent":0,"IOMaximumIOps":0,"IOMaximumBandwidth":0,"Mounts":[{"Type":"bind","Source":"/tmp","Target":"/m1","ReadOnly":true},{"Type":"volume","Source":"v2","Target":"/m2"},{"Type":"tmpfs","Target":"/m3","TmpfsOptions":{"SizeBytes":67108864}}],"MaskedPaths":null,"ReadonlyPaths":null,"Init":true},"NetworkingConfig":{"EndpointsConfig":{}}}';

describe("create body", () => {
  it("matches the docker CLI's body for a bare `create busybox`", () => {
    assert.equal(JSON.stringify(createBody(["busybox"]).body), DOCKER_DEFAULT_BODY);
  });
  it("matches the docker CLI's body byte for byte with most flags set", () => {
    const req = createBody(DOCKER_FULL_ARGS);
    assert.equal(JSON.stringify(req.body), DOCKER_FULL_BODY);
    assert.equal(req.pull, "never");
  });
  it("keeps flags after the image for the command", () => {
    const req = createBody(["--rm", "busybox", "sh", "-c", "ls -l", "--rm"]);
    assert.deepEqual(req.body["Cmd"], ["sh", "-c", "ls -l", "--rm"]);
    assert.equal((req.body["HostConfig"] as { AutoRemove: boolean }).AutoRemove, true);
  });
  it("fills -e NAME from the environment when set there", () => {
    assert.deepEqual(createBody(["-e", "HOME", "-e", "UNSET", "busybox"], { HOME: "/root" }).body["Env"], ["HOME=/root", "UNSET"]);
  });
  it("run -d attaches nothing", () => {
    const body = createBody(["-d", "-i", "busybox"], {}, true).body;
    assert.deepEqual([body["AttachStdin"], body["AttachStdout"], body["AttachStderr"], body["OpenStdin"], body["StdinOnce"]], [false, false, false, true, false]);
  });
  it("--no-healthcheck, --network with options, --name and --platform", () => {
    const req = createBody(["--no-healthcheck", "--network", "mynet", "--ip", "10.0.0.5", "--network-alias", "db", "--name", "x", "--platform", "linux/amd64", "busybox"]);
    assert.deepEqual(req.body["Healthcheck"], { Test: ["NONE"] });
    const eps = (req.body["NetworkingConfig"] as { EndpointsConfig: Record<string, { IPAMConfig: unknown; Aliases: unknown }> }).EndpointsConfig;
    assert.deepEqual(Object.keys(eps), ["mynet"]);
    assert.deepEqual(eps["mynet"]!.IPAMConfig, { IPv4Address: "10.0.0.5" });
    assert.deepEqual(eps["mynet"]!.Aliases, ["db"]);
    assert.equal(req.name, "x");
    assert.equal(req.platform, "linux/amd64");
  });
  it("rejects --rm with a restart policy and bad pull values", () => {
    assert.throws(() => createBody(["--rm", "--restart", "always", "busybox"]), /cannot specify both --restart and --rm/);
    assert.throws(() => createBody(["--pull", "sometimes", "busybox"]), /invalid pull option/);
  });
  it("reports bad flag values in pflag's words", () => {
    assert.throws(() => createBody(["-m", "1x", "busybox"]), (e: Error) => e instanceof FlagError && e.message === `invalid argument "1x" for "-m, --memory" flag: invalid suffix: 'x'`);
  });
});

describe("-v volume specs", () => {
  it("named volumes, binds and anonymous volumes", () => {
    assert.deepEqual(parseVolumeSpec("vol:/data:ro"), { type: "volume", source: "vol", target: "/data", readOnly: true });
    assert.deepEqual(parseVolumeSpec("/host:/ctr"), { type: "bind", source: "/host", target: "/ctr", readOnly: false });
    assert.deepEqual(parseVolumeSpec("/anon"), { type: "volume", source: "", target: "/anon", readOnly: false });
    assert.throws(() => parseVolumeSpec("/a:/b:ro:x"), /too many colons/);
    assert.throws(() => parseVolumeSpec("/a::/b"), /empty section between colons/);
  });
  it("splits into Binds and Volumes; relative host paths become absolute", () => {
    assert.deepEqual(parseVolumes(["vol:/data", "./src:/src:ro", "/anon", "/h:/c:ro,z,rshared"], "/work"), {
      binds: ["vol:/data", "/work/src:/src:ro", "/h:/c:ro,z,rshared"],
      volumes: { "/anon": {} },
    });
  });
});

describe("--mount", () => {
  it("bind, volume and tmpfs mounts", () => {
    assert.deepEqual(parseMount("type=bind,source=/tmp,target=/m1,readonly"), { Type: "bind", Source: "/tmp", Target: "/m1", ReadOnly: true });
    assert.deepEqual(parseMount("type=volume,src=x,dst=/y,volume-opt=a=b,volume-nocopy"), {
      Type: "volume",
      Source: "x",
      Target: "/y",
      VolumeOptions: { NoCopy: true, DriverConfig: { Options: { a: "b" } } },
    });
    assert.deepEqual(parseMount("type=bind,src=/tmp,dst=/z,bind-propagation=rshared"), { Type: "bind", Source: "/tmp", Target: "/z", BindOptions: { Propagation: "rshared" } });
    assert.deepEqual(parseMount("type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1770"), { Type: "tmpfs", Target: "/t", TmpfsOptions: { SizeBytes: 67108864, Mode: 0o1770 } });
    assert.deepEqual(parseMount("target=/v"), { Type: "volume", Target: "/v" });
  });
  it("errors", () => {
    assert.throws(() => parseMount("type=bind,source=/x"), /target is required/);
    assert.throws(() => parseMount("type=bind,target=/x,volume-nocopy"), /cannot mix 'volume-\*' options with mount type 'bind'/);
    assert.throws(() => parseMount("type=bind,target=/x,bogus=1"), /unexpected key 'bogus'/);
  });
});

describe("-p ports", () => {
  it("ParsePortSpec forms", () => {
    assert.deepEqual(parsePortSpec("8080:80"), [{ port: "80/tcp", binding: { HostIp: "", HostPort: "8080" } }]);
    assert.deepEqual(parsePortSpec("127.0.0.1:9000-9001:90-91/udp"), [
      { port: "90/udp", binding: { HostIp: "127.0.0.1", HostPort: "9000" } },
      { port: "91/udp", binding: { HostIp: "127.0.0.1", HostPort: "9001" } },
    ]);
    assert.deepEqual(parsePortSpec("[::1]:82:82"), [{ port: "82/tcp", binding: { HostIp: "::1", HostPort: "82" } }]);
    assert.deepEqual(parsePortSpec("0.0.0.0::81"), [{ port: "81/tcp", binding: { HostIp: "0.0.0.0", HostPort: "" } }]);
    assert.deepEqual(parsePortSpec("8000-8010:80"), [{ port: "80/tcp", binding: { HostIp: "", HostPort: "8000-8010" } }]);
    assert.throws(() => parsePortSpec("1.2.3:80"), /invalid hostPort: 1.2.3/);
    assert.throws(() => parsePortSpec("80/xyz"), /invalid proto: xyz/);
  });
  it("publish + expose → ExposedPorts and PortBindings", () => {
    assert.deepEqual(parsePublish(["5000", "8080:80"], ["7000-7001"]), {
      exposed: { "5000/tcp": {}, "7000/tcp": {}, "7001/tcp": {}, "80/tcp": {} },
      bindings: { "5000/tcp": [{ HostIp: "", HostPort: "" }], "80/tcp": [{ HostIp: "", HostPort: "8080" }] },
    });
  });
});

describe("other flag values", () => {
  it("--ulimit", () => {
    assert.deepEqual(parseUlimit("nofile=1024:2048"), { Name: "nofile", Hard: 2048, Soft: 1024 });
    assert.deepEqual(parseUlimit("nproc=50"), { Name: "nproc", Hard: 50, Soft: 50 });
    assert.throws(() => parseUlimit("bogus=1"), /invalid ulimit type: bogus/);
    assert.throws(() => parseUlimit("nofile=x"), /strconv.ParseInt: parsing "x": invalid syntax/);
    assert.throws(() => parseUlimit("nofile=2048:1024"), /soft limit must be less than or equal to hard limit: 2048 > 1024/);
  });
  it("--device", () => {
    assert.deepEqual(parseDevice("/dev/sda"), { PathOnHost: "/dev/sda", PathInContainer: "/dev/sda", CgroupPermissions: "rwm" });
    assert.deepEqual(parseDevice("/dev/sda:r"), { PathOnHost: "/dev/sda", PathInContainer: "/dev/sda", CgroupPermissions: "r" });
    assert.deepEqual(parseDevice("/dev/sda:/dev/xvda:rw"), { PathOnHost: "/dev/sda", PathInContainer: "/dev/xvda", CgroupPermissions: "rw" });
  });
  it("--restart, --add-host, capabilities", () => {
    assert.deepEqual(parseRestartPolicy("on-failure:3"), { Name: "on-failure", MaximumRetryCount: 3 });
    assert.deepEqual(parseRestartPolicy("always"), { Name: "always", MaximumRetryCount: 0 });
    assert.equal(parseExtraHost("h=::1"), "h:::1");
    assert.throws(() => parseExtraHost("nohost"), /bad format for add-host/);
    assert.deepEqual(effectiveCaps(["net_admin", "CAP_SYS_TIME", "net_admin"], ["mknod", "net_admin"]), { capAdd: ["CAP_NET_ADMIN", "CAP_SYS_TIME"], capDrop: ["CAP_MKNOD"] });
    assert.deepEqual(effectiveCaps(["all", "x"], []), { capAdd: ["ALL"], capDrop: null });
  });

  it("sends the block-IO, GPU, annotation, storage, real-time and endpoint flags as docker 28.2.2 does", () => {
    const args = [
      "--annotation", "a=b", "--annotation", "c", "--blkio-weight-device", "/dev/sda:200", "--device-read-bps", "/dev/sda:1mb",
      "--device-write-bps", "/dev/sdb:2k", "--device-read-iops", "/dev/sda:100", "--device-write-iops", "/dev/sda:7",
      "--cpu-rt-period", "1000", "--cpu-rt-runtime", "500", "--gpus", '"device=0,1"', "--mac-address", "92:d0:c6:0a:29:33",
      "--link-local-ip", "169.254.1.1", "--storage-opt", "size=1G", "--kernel-memory", "64m", "busybox",
    ];
    assert.equal(JSON.stringify(createBody(args).body), DOCKER_RESOURCE_BODY);
  });
});

// docker create with the flags above, captured through a proxy (kernel memory is not sent since API 1.42).
const DOCKER_RESOURCE_BODY =
  '{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":true,"AttachStderr":true,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":null,"Image":"busybox","Volumes":{},"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{},"HostConfig":{"Binds":null,"ContainerIDFile":"","LogConfig":{"Type":"","Config":{}},"NetworkMode":"default","PortBindings":{},"RestartPolicy":{"Name":"no","MaximumRetryCount":0},"AutoRemove":false,"VolumeDriver":"","VolumesFrom":null,"ConsoleSize":[0,0],"Annotations":{"a":"b","c":""},"CapAdd":null,"CapDrop":null,"CgroupnsMode":"","Dns":[],"DnsOptions":[],"DnsSearch":[],"ExtraHosts":null,"GroupAdd":null,"IpcMode":"","Cgroup":"","Links":null,"OomScoreAdj":0,"PidMode":"","Privileged":false,"PublishAllPorts":false,"ReadonlyRootfs":false,"SecurityOpt":null,"StorageOpt":{"size":"1G"},"UTSMode":"","UsernsMode":"","ShmSize":0,"Isolation":"","CpuShares":0,"Memory":0,"NanoCpus":0,"CgroupParent":"","BlkioWeight":0,"BlkioWeightDevice":[{"Path":"/dev/sda","Weight":200}],"BlkioDeviceReadBps":[{"Path":"/dev/sda","Rate":1048576}],"BlkioDeviceWriteBps":[{"Path":"/dev/sdb","Rate":2048}],"BlkioDeviceReadIOps":[{"Path":"/dev/sda","Rate":100}],"BlkioDeviceWriteIOps":[{"Path":"/dev/sda","Rate":7}],"CpuPeriod":0,"CpuQuota":0,"CpuRealtimePeriod":1000,"CpuRealtimeRuntime":500,"CpusetCpus":"","CpusetMems":"","Devices":[],"DeviceCgroupRules":null,"DeviceRequests":[{"Driver":"","Count":0,"DeviceIDs":["0","1"],"Capabilities":[["gpu"]],"Options":{}}],"MemoryReservation":0,"MemorySwap":0,"MemorySwappiness":-1,"OomKillDisable":false,"PidsLimit":0,"Ulimits":[],"CpuCount":0,"CpuPercent":0,"IOMaximumIOps":0,"IOMaximumBandwidth":0,"MaskedPaths":null,"ReadonlyPaths":null},"NetworkingConfig":{"EndpointsConfig":{"default":{"IPAMConfig":{"LinkLocalIPs":["169.254.1.1"]},"Links":null,"Aliases":null,"MacAddress":"92:d0:c6:0a:29:33","DriverOpts":null,"GwPriority":0,"NetworkID":"","EndpointID":"","Gateway":"","IPAddress":"","IPPrefixLen":0,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"DNSNames":null}}}}';
