// The classic Dockerfile builder (POST /build): parser, variable substitution, context,
// .dockerignore, instructions, multi-stage, layer cache. RUN steps go through a BuildRunner
// the daemon provides (the builder never imports the container module).
export { Builder, BuildError, pruneMountpoints } from "./builder.js";
export type { BuildRunner, RunRequest, BuildRequest, BuildOutput, BuildResult, BuilderOptions } from "./builder.js";
export { parseDockerfile, nodeFromLine, parseWords, extractFlags } from "./parser.js";
export type { Node, ParseResult } from "./parser.js";
export { Lexer, envMap } from "./shell.js";
