/**
 * `npm run stack:up | stack:down | stack:status` — the local stack without Docker.
 * `tsx infra/stack.ts env` prints `export` lines of the settings for a shell.
 */
import { relative } from 'node:path';

import { readSettings } from './stack/settings.js';
import { stackDown, stackStatus, stackUp } from './stack/stack.js';

// The pinned AWS SDK supports Node 20; its notice concerns releases after January 2027.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const out = (line: string): void => console.log(line);

async function main(command: string | undefined): Promise<number> {
  switch (command) {
    case 'up': {
      const began = Date.now();
      const up = await stackUp(out);
      const file = relative(process.cwd(), up.settingsFile);
      if (up.reused) out(`stack: already running since ${up.state.startedAt}; reusing it`);
      else out(`stack: up in ${((Date.now() - began) / 1000).toFixed(1)} s`);
      out(`stack: settings in ${file} (BACKTRACK_CONFIG_FILE=${file})`);
      return 0;
    }
    case 'down': {
      const stopped = await stackDown(out);
      out(stopped ? 'stack: stopped; data folder removed' : 'stack: nothing was running');
      return 0;
    }
    case 'status': {
      const { state, healthy, settingsFile } = await stackStatus();
      if (!state) {
        out('stack: not running (start it with `npm run stack:up`)');
        return 1;
      }
      out(
        `stack: ${healthy ? 'healthy' : 'NOT answering'}, started ${state.startedAt}, data in ${state.dataDir}`,
      );
      out(
        `  postgres ${state.postgres.version}  127.0.0.1:${state.postgres.port}   log ${state.postgres.logFile}`,
      );
      out(
        `  kafka    ${state.kafka.version}   ${state.kafka.bootstrap}   log ${state.kafka.logFile}`,
      );
      out(`  s3proxy  ${state.s3.version}   ${state.s3.endpoint}   log ${state.s3.logFile}`);
      out(`  settings ${settingsFile}`);
      return healthy ? 0 : 1;
    }
    case 'env': {
      const { state, settingsFile } = await stackStatus();
      if (!state) {
        console.error('stack: not running (start it with `npm run stack:up`)');
        return 1;
      }
      for (const [name, value] of Object.entries(readSettings(settingsFile))) {
        out(`export ${name}='${value.replace(/'/g, "'\\''")}'`);
      }
      return 0;
    }
    default:
      console.error('usage: tsx infra/stack.ts up | down | status | env');
      return 2;
  }
}

main(process.argv[2]).then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  },
);
