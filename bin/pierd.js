#!/usr/bin/env node
import { main } from "../dist/src/daemon/index.js";
await main(process.argv.slice(2));
