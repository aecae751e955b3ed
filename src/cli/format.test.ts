import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { containerContext, displayablePorts, DEFAULT_PS_FORMAT, PS_HEADER, type ContainerSummary } from "./container-format.js";
import { ellipsis, goTimeString, renderFormat, truncateID } from "./format.js";
import { imageContexts, imageRows, DEFAULT_IMAGES_FORMAT, IMAGES_HEADER, type ImageSummary } from "./image-format.js";
import { tabwrite } from "./tabwriter.js";

const NOW = Date.UTC(2024, 0, 1, 12, 0, 0);
const sec = (ms: number) => Math.floor(ms / 1000);

describe("tabwriter", () => {
  it("pads each column to its widest cell plus 3, at least 10", () => {
    assert.equal(tabwrite("a\tbb\tc\nlonger-cell-here\tx\ty\n"), "a                  bb        c\nlonger-cell-here   x         y\n");
  });
  it("leaves the last cell of a line alone and counts runes", () => {
    assert.equal(tabwrite("é…\tz\n"), "é…        z\n");
  });
});

describe("ps table", () => {
  const containers: ContainerSummary[] = [
    {
      Id: "5339fdae7869994faaa2637d7a71ddaaa75f7e5112a8f4af02b12eb028b7a773",
      Names: ["/web"],
      Image: "busybox",
      ImageID: "sha256:d39c3e642c1d7737238f5f8929e098fcd419f17539a3fa9cf92edecff2068d1b",
      Command: "sh -c 'while true; do sleep 1; done'",
      Created: sec(NOW - 90_000),
      Ports: [
        { IP: "0.0.0.0", PrivatePort: 80, PublicPort: 8080, Type: "tcp" },
        { PrivatePort: 443, Type: "tcp" },
        { PrivatePort: 444, Type: "tcp" },
      ],
      Labels: { b: "2", a: "1" },
      State: "running",
      Status: "Up About a minute",
      NetworkSettings: { Networks: { bridge: {} } },
      Mounts: [],
    },
    {
      Id: "297088f6f0e838bcbf1b66b7e3d47613a27ca924b0e3e6a8e4b7783ac1e78b45",
      Names: ["/db"],
      Image: "localhost:5000/postgres:16@sha256:aaaa",
      ImageID: "sha256:1111",
      Command: "/nonexist",
      Created: sec(NOW - 2 * 3_600_000),
      Ports: [],
      State: "exited",
      Status: "Exited (3) 2 hours ago",
    },
  ];
  it("renders Docker's default table", () => {
    const rows = containers.map((c) => containerContext(c, { trunc: true, now: NOW }));
    assert.equal(
      renderFormat(DEFAULT_PS_FORMAT, rows, PS_HEADER),
      [
        "CONTAINER ID   IMAGE                        COMMAND                  CREATED              STATUS                   PORTS                               NAMES",
        `5339fdae7869   busybox                      "sh -c 'while true; …"   About a minute ago   Up About a minute        443-444/tcp, 0.0.0.0:8080->80/tcp   web`,
        `297088f6f0e8   localhost:5000/postgres:16   "/nonexist"              2 hours ago          Exited (3) 2 hours ago                                       db`,
        "",
      ].join("\n"),
    );
  });
  it("--no-trunc keeps full IDs and commands", () => {
    const row = containerContext(containers[0]!, { trunc: false, now: NOW });
    assert.equal(row["ID"], containers[0]!.Id);
    assert.equal(row["Command"], `"sh -c 'while true; do sleep 1; done'"`);
  });
  it("fields for --format: labels, ports, json", () => {
    const row = containerContext(containers[0]!, { trunc: true, now: NOW });
    assert.equal(renderFormat('{{.Names}} {{.Labels}} {{.Label "a"}} {{.State}} {{.Networks}}', [row], PS_HEADER), "web a=1,b=2 1 running bridge\n");
    const json = JSON.parse(renderFormat("{{json .}}", [row], PS_HEADER)) as Record<string, unknown>;
    assert.deepEqual(Object.keys(json), ["Command", "CreatedAt", "ID", "Image", "Labels", "LocalVolumes", "Mounts", "Names", "Networks", "Platform", "Ports", "RunningFor", "Size", "State", "Status"]);
    assert.equal(json["CreatedAt"], goTimeString(NOW - 90_000));
  });
  it("groups ports like DisplayablePorts", () => {
    assert.equal(
      displayablePorts([
        { PrivatePort: 80, Type: "tcp" },
        { PrivatePort: 81, Type: "tcp" },
        { PrivatePort: 82, Type: "tcp" },
        { PrivatePort: 53, Type: "udp" },
        { IP: "::", PrivatePort: 80, PublicPort: 8080, Type: "tcp" },
        { IP: "127.0.0.1", PrivatePort: 9000, PublicPort: 9000, Type: "tcp" },
      ]),
      "53/udp, 80-82/tcp, 127.0.0.1:9000->9000/tcp, [::]:8080->80/tcp",
    );
  });
  it("Ellipsis and TruncateID", () => {
    assert.equal(ellipsis("abcdefghijklmnopqrstuvwxyz", 20), "abcdefghijklmnopqrs…");
    assert.equal(ellipsis("short", 20), "short");
    assert.equal(truncateID("sha256:d39c3e642c1d7737238f"), "d39c3e642c1d");
  });
});

describe("images table", () => {
  const images: ImageSummary[] = [
    {
      Id: "sha256:d39c3e642c1d7737238f5f8929e098fcd419f17539a3fa9cf92edecff2068d1b",
      RepoTags: ["busybox:latest", "busybox:1.36", "localhost:5000/tools/busybox:v1"],
      RepoDigests: ["busybox@sha256:abc"],
      Created: sec(NOW - 3 * 86_400_000),
      Size: 4_260_000,
    },
    { Id: "sha256:0123456789abcdef0123", RepoTags: [], RepoDigests: [], Created: sec(NOW - 30_000), Size: 999 },
  ];
  it("one row per tag, dangling images as <none>", () => {
    assert.equal(
      renderFormat(DEFAULT_IMAGES_FORMAT, imageContexts(images, { trunc: true, digests: false, now: NOW }), IMAGES_HEADER),
      [
        "REPOSITORY                     TAG       IMAGE ID       CREATED          SIZE",
        "busybox                        latest    d39c3e642c1d   3 days ago       4.26MB",
        "busybox                        1.36      d39c3e642c1d   3 days ago       4.26MB",
        "localhost:5000/tools/busybox   v1        d39c3e642c1d   3 days ago       4.26MB",
        "<none>                         <none>    0123456789ab   30 seconds ago   999B",
        "",
      ].join("\n"),
    );
  });
  it("--digests adds the digest of each tag", () => {
    assert.deepEqual(imageRows(images[0]!, true)[0], { repo: "busybox", tag: "latest", digest: "sha256:abc" });
  });
  it("json escapes HTML like Go", () => {
    const out = renderFormat("json", imageContexts([images[1]!], { trunc: true, digests: false, now: NOW }), IMAGES_HEADER);
    assert.match(out, /"Repository":"\\u003cnone\\u003e"/);
  });
});
