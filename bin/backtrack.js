#!/usr/bin/env node
// The installed command: runs the compiled CLI (`npm run build` first). During development,
// `npm run backtrack -- <command>` runs the TypeScript sources directly.
await import('../dist/services/cli/main.js');
