import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { withConfigReference } from '../../infra/docs.js';
import { REPO_ROOT } from '../../infra/stack/paths.js';

const readme = readFileSync(`${REPO_ROOT}/README.md`, 'utf8');

describe('README', () => {
  it('has the configuration reference the schema generates (run `npm run docs:config`)', () => {
    expect(readme).toBe(withConfigReference(readme));
  });

  it('opens the quick start with exactly `make demo` and `make test`', () => {
    const quickStart = /## Quick start\n+```sh\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(quickStart?.trim().split('\n')).toEqual(['make demo', 'make test']);
  });
});
