"""docker-py against the engine in DOCKER_HOST: the calls applications make most."""
import sys
import docker

client = docker.DockerClient(base_url=sys.argv[1], version="auto", timeout=60)
assert client.ping() is True
assert client.version()["ApiVersion"]
assert client.info()["Containers"] >= 0

out = client.containers.run("busybox", ["sh", "-c", "echo hi; echo err >&2"], remove=True)
assert out == b"hi\n", out

c = client.containers.run("busybox", ["sh", "-c", "echo line1; echo line2; exit 7"], detach=True, labels={"py": "yes"}, name="py-detached")
res = c.wait(timeout=30)
assert res["StatusCode"] == 7, res
assert c.logs() == b"line1\nline2\n", c.logs()
assert c.logs(tail=1) == b"line2\n"
found = client.containers.list(all=True, filters={"label": ["py=yes"]})
assert [x.name for x in found] == ["py-detached"], found
c.reload()
assert c.status == "exited" and c.attrs["State"]["ExitCode"] == 7
c.remove()

try:
    client.containers.get("py-detached")
    raise AssertionError("container still exists")
except docker.errors.NotFound:
    pass

try:
    client.images.get("no-such-image:1")
    raise AssertionError("found a missing image")
except docker.errors.ImageNotFound:
    pass

tags = [t for i in client.images.list() for t in i.tags]
assert "busybox:latest" in tags, tags

v = client.volumes.create("pyvol", labels={"k": "v"})
assert v.name == "pyvol"
assert "pyvol" in [x.name for x in client.volumes.list()]
v.remove()

names = sorted(n.name for n in client.networks.list())
assert {"bridge", "host", "none"} <= set(names), names
print("docker-py ok")
