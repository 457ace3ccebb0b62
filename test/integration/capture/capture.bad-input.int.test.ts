/**
 * `backtrack capture` given what an operator gets wrong: each case ends the command with
 * one error line that names the setting (or command) that fixes it, a distinct exit code,
 * and no change to the slot.
 */
import { freePort } from '../../../infra/stack/ports.js';
import {
  captureEnvironment,
  captureInProcess,
  confirmedFlush,
  setupSource,
  spawnBacktrack,
} from '../../support/capture.js';
import {
  describe,
  expect,
  type KafkaFixture,
  type SourceFixture,
  test,
} from '../../support/fixtures.js';

/** Runs capture with `extra` settings to its end; returns exit code and the error lines. */
async function failingCapture(
  source: SourceFixture,
  kafka: KafkaFixture,
  extra: Record<string, string>,
) {
  const child = spawnBacktrack(
    ['capture'],
    captureEnvironment(source, kafka, {
      BACKTRACK_CAPTURE_STARTUP_TIMEOUT_MS: '0',
      BACKTRACK_LOG_LEVEL: 'error',
      ...extra,
    }),
  );
  const code = await child.exited;
  const errorLines = child
    .output()
    .split('\n')
    .filter((line) => line.startsWith('backtrack capture:'));
  return { code, errorLines };
}

async function prepare(source: SourceFixture): Promise<void> {
  await source.exec(`CREATE TABLE notes (id int PRIMARY KEY, tenant_id text NOT NULL, body text)`);
  await setupSource(source);
}

describe('capture: bad input', () => {
  test('a wrong password: CONFIG_INVALID naming BACKTRACK_SOURCE_URL, exit 3', async ({
    source,
    kafka,
  }) => {
    await prepare(source);
    const wrong = new URL(source.url);
    wrong.password = 'not-the-password';
    const { code, errorLines } = await failingCapture(source, kafka, {
      BACKTRACK_SOURCE_URL: wrong.toString(),
    });
    expect(code).toBe(3);
    expect(errorLines).toEqual([
      expect.stringMatching(
        /^backtrack capture: CONFIG_INVALID: cannot use the source database at .*: the password was refused .*check BACKTRACK_SOURCE_URL$/,
      ),
    ]);
    expect(errorLines[0]).not.toContain(new URL(source.url).password);
  });

  test('nothing listening at the address: SOURCE_UNAVAILABLE naming BACKTRACK_SOURCE_URL, exit 4', async ({
    source,
    kafka,
  }) => {
    await prepare(source);
    const wrong = new URL(source.url);
    wrong.port = String(await freePort());
    const { code, errorLines } = await failingCapture(source, kafka, {
      BACKTRACK_SOURCE_URL: wrong.toString(),
    });
    expect(code).toBe(4);
    expect(errorLines).toEqual([
      expect.stringMatching(
        /^backtrack capture: SOURCE_UNAVAILABLE: cannot reach the source database at 127\.0\.0\.1:\d+\/\w+ \(.*ECONNREFUSED.*\); check BACKTRACK_SOURCE_URL and that Postgres runs$/,
      ),
    ]);
  });

  test('a missing publication: the command to run, exit 2, the slot untouched', async ({
    source,
    kafka,
  }) => {
    await prepare(source);
    await source.pool.query(`DROP PUBLICATION "${source.publication}"`);
    const before = await confirmedFlush(source.url, source.slot);
    const { code, errorLines } = await failingCapture(source, kafka, {});
    expect(code).toBe(2);
    expect(errorLines).toEqual([
      `backtrack capture: SOURCE_NOT_READY: publication ${source.publication} does not exist; run \`backtrack setup\` to create it, or set BACKTRACK_CAPTURE_PUBLICATION`,
    ]);
    expect(await confirmedFlush(source.url, source.slot)).toBe(before);
  });

  test('a missing slot: the command to run, exit 2', async ({ source, kafka }) => {
    await prepare(source);
    const { code, errorLines } = await failingCapture(source, kafka, {
      BACKTRACK_CAPTURE_SLOT: 'no_such_slot',
    });
    expect(code).toBe(2);
    expect(errorLines).toEqual([
      'backtrack capture: SOURCE_NOT_READY: replication slot no_such_slot does not exist; run `backtrack setup` to create it, or set BACKTRACK_CAPTURE_SLOT',
    ]);
  });

  test('a slot another capture holds: SLOT_IN_USE with its pid, exit 5, the running capture unharmed', async ({
    source,
    kafka,
    log,
  }) => {
    await prepare(source);
    const running = await captureInProcess(source, kafka, log);
    try {
      const { code, errorLines } = await failingCapture(source, kafka, {});
      expect(code).toBe(5);
      expect(errorLines).toEqual([
        expect.stringMatching(
          new RegExp(
            `^backtrack capture: SLOT_IN_USE: replication slot ${source.slot} is already active \\(pid \\d+\\); stop the other capture or set BACKTRACK_CAPTURE_SLOT$`,
          ),
        ),
      ]);
      expect(running.phase()).toBe('streaming');
    } finally {
      await running.stop();
    }
  });

  test('an unreachable broker: KAFKA_UNAVAILABLE naming BACKTRACK_KAFKA_BROKERS, exit 4', async ({
    source,
    kafka,
  }) => {
    await prepare(source);
    const nowhere = `127.0.0.1:${await freePort()}`;
    const { code, errorLines } = await failingCapture(source, kafka, {
      BACKTRACK_KAFKA_BROKERS: nowhere,
    });
    expect(code).toBe(4);
    expect(errorLines).toEqual([
      expect.stringMatching(
        new RegExp(
          `^backtrack capture: KAFKA_UNAVAILABLE: cannot reach Kafka at ${nowhere} \\(.*\\); check BACKTRACK_KAFKA_BROKERS and that the brokers run$`,
        ),
      ),
    ]);
  });
});
