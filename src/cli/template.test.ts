import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { renderFormat } from "./format.js";
import { GO_TYPE, Template, TemplateError, renderTemplate, sprintf } from "./template.js";

const run = (src: string, data: unknown) => renderTemplate(src, data);

describe("template: fields and values", () => {
  const data = {
    Name: "/web",
    State: { ExitCode: 3, Running: false, Health: null },
    Config: { Env: ["A=1", "B=2"], Labels: { "com.x": "y", a: "b" }, Image: "busybox", Entrypoint: null },
    Count: 0,
  };
  it("prints fields and nested fields", () => {
    assert.equal(run("{{.Name}} {{.State.ExitCode}} {{.Config.Image}}", data), "/web 3 busybox");
  });
  it("prints like Go's %v: slices, maps, bools, nil, missing", () => {
    assert.equal(run("{{.Config.Env}}", data), "[A=1 B=2]");
    assert.equal(run("{{.Config.Labels}}", data), "map[a:b com.x:y]");
    assert.equal(run("{{.State.Running}}", data), "false");
    assert.equal(run("{{.Config.Entrypoint}}", data), "<nil>");
    assert.equal(run("{{.Nope}}", data), "<no value>");
  });
  it("json", () => {
    assert.equal(run("{{json .Config.Env}}", data), '["A=1","B=2"]');
    assert.equal(run("{{json .Config.Entrypoint}}", data), "null");
    assert.equal(run("{{.Config.Env | json}}", data), '["A=1","B=2"]');
    assert.equal(run("{{json .}}", { a: "<b>&" }), '{"a":"<b>&"}');
  });
  it("index on maps and slices", () => {
    assert.equal(run('{{index .Config.Labels "com.x"}}', data), "y");
    assert.equal(run('{{index .Config.Labels "missing"}}', data), "");
    assert.equal(run("{{index .Config.Env 1}}", data), "B=2");
  });
  it("range with and without variables, else, break", () => {
    assert.equal(run("{{range .Config.Env}}[{{.}}]{{end}}", data), "[A=1][B=2]");
    assert.equal(run("{{range $i, $e := .Config.Env}}{{$i}}={{$e}} {{end}}", data), "0=A=1 1=B=2 ");
    assert.equal(run("{{range $k, $v := .Config.Labels}}{{$k}}:{{$v}};{{end}}", data), "a:b;com.x:y;");
    assert.equal(run("{{range .Missing}}x{{else}}none{{end}}", data), "none");
    assert.equal(run("{{range .Config.Env}}{{.}}{{break}}{{end}}", data), "A=1");
  });
  it("if / else if / else, with", () => {
    assert.equal(run("{{if .State.Running}}up{{else}}down{{end}}", data), "down");
    assert.equal(run("{{if .Count}}a{{else if .Name}}b{{else}}c{{end}}", data), "b");
    assert.equal(run("{{with .Config}}{{.Image}}{{end}}", data), "busybox");
    assert.equal(run("{{with .State.Health}}{{.Status}}{{else}}no health{{end}}", data), "no health");
  });
  it("printf, print, comparisons, and/or/not, len", () => {
    assert.equal(run('{{printf "%s-%d" .Config.Image .State.ExitCode}}', data), "busybox-3");
    assert.equal(run('{{printf "%-8s|" .Config.Image}}', data), "busybox |");
    assert.equal(run('{{printf "%q" .Name}}', data), '"/web"');
    assert.equal(run("{{eq .State.ExitCode 3}} {{ne .Name \"x\"}} {{lt 1 2}}", data), "true true true");
    assert.equal(run('{{eq .Name "a" "/web"}}', data), "true");
    assert.equal(run("{{and .Name .Count}}|{{or .Count .Name}}|{{not .Count}}", data), "0|/web|true");
    assert.equal(run("{{len .Config.Env}}", data), "2");
  });
  it("Docker's functions: join, split, upper, lower, title, truncate, pad", () => {
    assert.equal(run('{{join .Config.Env ","}}', data), "A=1,B=2");
    assert.equal(run('{{split "a:b:c" ":"}}', data), "[a b c]");
    assert.equal(run("{{upper .Config.Image}} {{lower \"ABC\"}} {{title \"hello world\"}}", data), "BUSYBOX abc Hello World");
    assert.equal(run("{{truncate .Config.Image 3}}", data), "bus");
    assert.equal(run("{{pad .Config.Image 1 2}}|", data), " busybox  |");
  });
  it("variables, trim markers, comments, parentheses", () => {
    assert.equal(run("{{$n := .Name}}{{$n}}", data), "/web");
    assert.equal(run("a  {{- .Count -}}  b", data), "a0b");
    assert.equal(run("x{{/* note */}}y", data), "xy");
    assert.equal(run("{{(index .Config.Env 0)}}", data), "A=1");
    assert.equal(run("{{$}}", "root"), "root");
  });
  it("method calls with arguments", () => {
    const ctx = { Label: (k: unknown) => `L(${String(k)})` };
    assert.equal(run('{{.Label "a.b"}}', ctx), "L(a.b)");
  });
});

describe("template: errors", () => {
  it("unknown function is a parse error", () => {
    assert.throws(() => new Template("{{nope .X}}"), /function "nope" not defined/);
  });
  it("unclosed action", () => {
    assert.throws(() => new Template("{{.X"), TemplateError);
  });
  it("missing field of a struct-like context names its type", () => {
    const ctx = { ID: "x" };
    Object.defineProperty(ctx, GO_TYPE, { value: "*formatter.ContainerContext" });
    assert.throws(() => run("{{.Foo}}", ctx), /executing "" at <\.Foo>: can't evaluate field Foo in type \*formatter\.ContainerContext/);
  });
  it("missingkey=error on inspect-like objects", () => {
    const t = new Template("{{.State.Foo}}");
    assert.throws(() => t.execute({ State: { Running: true } }, { missingKey: "error" }), /map has no entry for key "Foo"/);
  });
  it("nil pointer", () => {
    assert.throws(() => run("{{.State.Health.Status}}", { State: { Health: null } }), /nil pointer evaluating/);
  });
});

describe("sprintf", () => {
  it("covers common verbs", () => {
    assert.equal(sprintf("%5d|%-5d|%05d", 42, 42, 42), "   42|42   |00042");
    assert.equal(sprintf("%.2f %t %x %v", 1.005, true, 255, [1, 2]), "1.00 true ff [1 2]");
    assert.equal(sprintf("%s", "a", "b"), "a%!(EXTRA string=b)");
    assert.equal(sprintf("%d"), "%!d(MISSING)");
  });
});

describe("table formats", () => {
  const rows = [
    { ID: "abc", Names: "web", Label: (k: unknown) => String(k) },
    { ID: "defghijklmnop", Names: "db", Label: (k: unknown) => String(k) },
  ];
  const header = { ID: "CONTAINER ID", Names: "NAMES" };
  it("prints the header row from field names and aligns columns", () => {
    assert.equal(
      renderFormat("table {{.ID}}\t{{.Names}}", rows, header),
      "CONTAINER ID    NAMES\nabc             web\ndefghijklmnop   db\n",
    );
  });
  it("headers pass functions through and name labels by their last part", () => {
    assert.equal(renderFormat('table {{upper .ID}}\t{{.Label "com.docker.compose.project"}}', rows.slice(0, 1), header), "CONTAINER ID   project\nABC            com.docker.compose.project\n");
  });
  it("non-table formats print one line per row; literal \\t and \\n are expanded", () => {
    assert.equal(renderFormat("{{.ID}}\\t{{.Names}}", rows, header), "abc\tweb\ndefghijklmnop\tdb\n");
  });
  it('"json" means {{json .}}', () => {
    assert.equal(renderFormat("json", [{ A: 1 }], {}), '{"A":1}\n');
  });
});
