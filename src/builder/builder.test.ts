import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseDockerfile } from "./parser.js";
import { Lexer } from "./shell.js";
import { IgnoreMatcher, readIgnore } from "../lib/index.js";
import { goDuration, goQuoteSlice } from "./format.js";

describe("builder: parser", () => {
  it("directives, comments, continuations (leading whitespace kept), JSON and shell forms", () => {
    const r = parseDockerfile("# escape=`\n# syntax=x\nFROM a\n# c\nRUN echo a `\n  # inside\n    b\nCMD [\"x\", \"y\"]\nENV K v w\nLABEL a=1 \"b c\"='d e'\nCOPY --chown=1:2 --from=s a b\n");
    assert.equal(r.escapeToken, "`");
    assert.equal(r.warnings.length, 1);
    const [from, run, cmd, env, label, copy] = r.nodes;
    assert.deepEqual(from!.args, ["a"]);
    assert.deepEqual(run!.args, ["echo a     b"]);
    assert.equal(cmd!.json, true);
    assert.deepEqual(cmd!.args, ["x", "y"]);
    assert.deepEqual(env!.args, ["K", "v w"]);
    assert.deepEqual(label!.args, ["a", "1", '"b c"', "'d e'"]);
    assert.deepEqual(copy!.flags, ["--chown=1:2", "--from=s"]);
    assert.deepEqual(copy!.args, ["a", "b"]);
  });
  it("unknown instructions are errors", () => {
    assert.throws(() => parseDockerfile("FROM a\nFOO b\n"), /unknown instruction: FOO/);
  });
});

describe("builder: variable substitution", () => {
  const lx = new Lexer();
  const env = ["A=hello", "E="];
  const cases: Array<[string, string]> = [
    ["$A", "hello"],
    ["${A}x", "hellox"],
    ["${U:-d}", "d"],
    ["${E:-d}", "d"],
    ["${E-d}", ""],
    ["${A:+alt}", "alt"],
    ["${U:+alt}", ""],
    ["'$A'", "$A"],
    ['"$A b"', "hello b"],
    ["\\$A", "$A"],
    ["${U:-${A}}", "hello"],
    ["a\\ b", "a b"],
  ];
  for (const [w, want] of cases) it(`${w} → ${want}`, () => assert.equal(lx.processWord(w, env), want));
  it("errors", () => {
    assert.throws(() => lx.processWord("${U:?must be set}", env), /U: must be set/);
    assert.throws(() => lx.processWord("'open", env), /single-quote/);
  });
});

describe("builder: .dockerignore", () => {
  const m = new IgnoreMatcher(readIgnore("# c\n*.log\n**/*.tmp\nsecret\n!secret/ok\n/root.txt\n"));
  const cases: Array<[string, boolean]> = [
    ["a.log", true],
    ["d/a.log", false],
    ["x.tmp", true],
    ["d/e/x.tmp", true],
    ["secret/x", true],
    ["secret/ok", false],
    ["root.txt", true],
    ["d/root.txt", false],
  ];
  for (const [p, want] of cases) it(`${p} ${want ? "ignored" : "kept"}`, () => assert.equal(m.matches(p), want));
});

describe("builder: Go formatting", () => {
  it("%q and durations", () => {
    assert.equal(goQuoteSlice(["/bin/sh", "-c", 'echo "x"\n']), '["/bin/sh" "-c" "echo \\"x\\"\\n"]');
    assert.equal(goDuration(30e9), "30s");
    assert.equal(goDuration(90e9), "1m30s");
    assert.equal(goDuration(5e8), "500ms");
  });
});
