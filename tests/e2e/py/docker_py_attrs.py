"""docker-py's high-level objects read fields of the bodies: the ones its users index into."""
import sys
import docker

client = docker.DockerClient(base_url=sys.argv[1], version="1.41", timeout=60)

vol = client.volumes.create("parity-py-vol", labels={"py": "1"})
assert vol.attrs["Labels"] == {"py": "1"}, vol.attrs
assert vol.attrs["Driver"] == "local" and vol.attrs["Scope"] == "local", vol.attrs

# docker-py sends a sparse HostConfig: inspect must still have every field.
c = client.containers.run("busybox", ["sleep", "600"], detach=True, name="parity-py", labels={"py": "1"},
                          volumes={"parity-py-vol": {"bind": "/v", "mode": "rw"}})
c.reload()
hc = c.attrs["HostConfig"]
for key, want in [("Memory", 0), ("CpuShares", 0), ("NanoCpus", 0), ("CapAdd", None), ("Ulimits", None),
                  ("Devices", None), ("Dns", None), ("PublishAllPorts", False), ("Privileged", False)]:
    assert hc[key] == want, (key, hc.get(key))
assert c.status == "running", c.status
assert c.attrs["State"]["Running"] is True
assert isinstance(c.attrs["GraphDriver"]["Data"]["UpperDir"], str), c.attrs["GraphDriver"]
assert [m["Mode"] for m in c.attrs["Mounts"]] == ["rw"], c.attrs["Mounts"]
assert c.labels == {"py": "1"}, c.labels
assert c.image.tags == ["busybox:latest"], c.image.tags
assert c.name == "parity-py"
top = c.top()
assert top["Titles"] and top["Processes"], top
stats = c.stats(stream=False)
for key in ("read", "cpu_stats", "precpu_stats", "memory_stats", "pids_stats"):
    assert key in stats, (key, sorted(stats))
code, out = c.exec_run(["sh", "-c", "echo x; exit 4"])
assert (code, out) == (4, b"x\n"), (code, out)

listed = client.containers.list(filters={"label": "py=1"})
assert [x.name for x in listed] == ["parity-py"], listed
assert listed[0].attrs["HostConfig"]["Memory"] == 0
sparse = client.containers.list(filters={"label": "py=1"}, sparse=True)
assert sparse[0].attrs["Names"] == ["/parity-py"], sparse[0].attrs

c.kill()
assert c.wait() == {"Error": None, "StatusCode": 137}, c.wait()

ex = client.containers.run("busybox", ["sh", "-c", "echo out; exit 3"], detach=True, name="parity-py-exit")
assert ex.wait() == {"Error": None, "StatusCode": 3}
assert ex.logs() == b"out\n"
ex.reload()
assert ex.status == "exited" and ex.attrs["State"]["ExitCode"] == 3

img = client.images.get("busybox")
assert img.tags == ["busybox:latest"], img.tags
assert img.attrs["RootFS"]["Type"] == "layers"
assert isinstance(img.labels, dict)
assert img.history()[0]["Id"].startswith("sha256:")
assert any(i.tags == ["busybox:latest"] for i in client.images.list())

df = client.df()
busybox = [i for i in df["Images"] if "busybox:latest" in (i["RepoTags"] or [])][0]
assert busybox["SharedSize"] >= 0 and busybox["Containers"] >= 2, busybox
assert any(v["Name"] == "parity-py-vol" for v in df["Volumes"])

info = client.info()
assert info["RegistryConfig"]["IndexConfigs"]["docker.io"]["Official"] is True

for x in (c, ex):
    x.remove(force=True)
vol.remove()
print("docker-py attrs ok")
