import { describe, expect, it } from 'vitest';

import { COMMANDS, help } from './commands.js';

describe('the command table', () => {
  // Loading every command's module imports most of the code base: about 1.5 s alone, past
  // vitest's 5 s default on two busy cores (it timed out at 5.0 s beside two test loops).
  it('loads, for every name, the command of that name', { timeout: 30_000 }, async () => {
    for (const entry of COMMANDS) {
      const command = await entry.load();
      expect(command.name).toBe(entry.name);
    }
    expect(new Set(COMMANDS.map((c) => c.name)).size).toBe(COMMANDS.length);
  });

  it('lists every command with its summary in the help', async () => {
    const text = await help();
    for (const entry of COMMANDS) {
      const command = await entry.load();
      expect(text).toMatch(
        new RegExp(
          `^  ${entry.name} +${command.summary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`,
          'm',
        ),
      );
    }
  });
});
