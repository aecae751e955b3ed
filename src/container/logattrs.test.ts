import { test } from "node:test";
import assert from "node:assert/strict";
import { detailsPrefix, logAttributes, parseTagTemplate, queryEscape, type LogInfo } from "./logattrs.js";

const info: LogInfo = {
  id: "58c7755d84cd3236ff499ade4708a63a748ff3e049ac358091ddb5e07f8ff989",
  name: "/jolly_mayer",
  imageId: "sha256:459d19a87a926d083d86d08538c4183a975361c6f262907163b6de09a4ebf1f7",
  imageName: "busybox",
  entrypoint: "echo",
  args: ["hi"],
  labels: { "com.a": "1", "com.b": "x y", other: "z" },
  env: ["FOO=bar", "BAZ=q=r&s", "ZED=1", "NOVALUE"],
};

test("json-file's attributes: named and matching labels and env, and the tag", () => {
  const Config = { labels: "com.a,nolabel", "labels-regex": "^com\\.", env: "FOO,NOPE,NOVALUE", "env-regex": "^BA", tag: "{{.Name}}" };
  assert.deepEqual(logAttributes({ Type: "json-file", Config }, info), { "com.a": "1", "com.b": "x y", FOO: "bar", BAZ: "q=r&s", tag: "jolly_mayer" });
  assert.deepEqual(logAttributes({ Type: "local", Config: {} }, info), {});
  assert.deepEqual(logAttributes({ Type: "json-file", Config: {} }, info), {});
});

test("--details prefix: keys sorted, Go's QueryEscape, a space after (only a space when empty)", () => {
  assert.equal(detailsPrefix({ b: "x y", A: "q=r&s/é" }).toString(), "A=q%3Dr%26s%2F%C3%A9,b=x+y ");
  assert.equal(detailsPrefix({}).toString(), " ");
  assert.equal(queryEscape("a-b_c.d~e!*'()"), "a-b_c.d~e%21%2A%27%28%29");
});

test("tag templates: logger.Info's fields as dockerd 20.10 shows them; errors in text/template's words", () => {
  const tag = (t: string) => logAttributes({ Type: "json-file", Config: { tag: t } }, info).tag;
  assert.equal(tag("{{.ID}}|{{.ImageID}}|{{.ImageName}}|{{.DaemonName}}|{{.Command}}|{{.ContainerName}}|{{ .Name }}"), "58c7755d84cd|sha256:459d1|busybox|docker|echo hi|/jolly_mayer|jolly_mayer");
  assert.equal(tag("{{upper .Name}}-{{- \t .ImageName -}}  x"), "JOLLY_MAYER-busyboxx");
  assert.equal(tag("{{title .ImageName}}"), "Busybox");
  assert.throws(() => parseTagTemplate("{{.Bogus}}"), { message: 'template: log-tag:1:2: executing "log-tag" at <.Bogus>: can\'t evaluate field Bogus in type *logger.Info' });
  assert.throws(() => parseTagTemplate("a\n{{ .Bogus}}"), { message: /^template: log-tag:2:3: / });
  assert.throws(() => parseTagTemplate("{{.Name"), { message: "template: log-tag:1: unclosed action" });
  assert.throws(() => parseTagTemplate("{{json .Name}}"), { message: /is not supported by Pier/ });
});
