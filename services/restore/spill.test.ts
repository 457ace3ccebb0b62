import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { readLines, readRecords, RecordEncoder, SpillWriter } from './spill.js';

const folder = mkdtempSync(join(tmpdir(), 'spill-test-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

describe('spill files', () => {
  it('reads back records of every size, across read chunks, in order', () => {
    const path = join(folder, 'records.spill');
    const writer = new SpillWriter(path, 1000);
    const encoder = new RecordEncoder();
    const texts = ['', 'ü€😀', 'a'.repeat(3000), null, 'tab\tnew\nline'];
    const big = 'b'.repeat(3 * 1024 * 1024); // larger than a read chunk
    for (let i = 0; i < 5000; i++) {
      const text = i === 2500 ? big : (texts[i % texts.length] ?? null);
      writer.write(
        encoder
          .begin(i % 7)
          .u32(i)
          .u64(BigInt(i) << 40n)
          .text(text)
          .image([
            { kind: 'text', text: 'x' },
            { kind: 'null' },
            { kind: 'unchanged-toast' },
            { kind: 'absent' },
          ])
          .image(null)
          .texts([text, 'y'])
          .finish(),
      );
    }
    writer.close();
    let i = 0;
    for (const [type, d] of readRecords(path)) {
      const text = i === 2500 ? big : (texts[i % texts.length] ?? null);
      expect(type).toBe(i % 7);
      expect(d.u32()).toBe(i);
      expect(d.u64()).toBe(BigInt(i) << 40n);
      expect(d.text()).toBe(text);
      expect(d.image()).toEqual([
        { kind: 'text', text: 'x' },
        { kind: 'null' },
        { kind: 'unchanged-toast' },
        { kind: 'absent' },
      ]);
      expect(d.image()).toBeNull();
      expect(d.texts()).toEqual([text, 'y']);
      i += 1;
    }
    expect(i).toBe(5000);
  });

  it('refuses a file cut mid-record', () => {
    const path = join(folder, 'cut.spill');
    const record = new RecordEncoder().begin(1).text('hello').finish();
    writeFileSync(path, record.subarray(0, record.length - 2));
    expect(() => [...readRecords(path)]).toThrow(/ends mid-record/);
  });

  it('reads lines of text across chunks, multibyte characters intact', () => {
    const path = join(folder, 'lines.copy');
    const writer = new SpillWriter(path, 100);
    const lines = Array.from({ length: 3000 }, (_, i) => `${i}\t${'é'.repeat(i % 900)}😀`);
    lines.push('z'.repeat(2 * 1024 * 1024 + 3));
    for (const line of lines) writer.writeText(`${line}\n`);
    writer.close();
    expect([...readLines(path)]).toEqual(lines);
  });

  it('says where to find room when it cannot write', () => {
    expect(() => new SpillWriter(join(folder, 'missing', 'x.spill'))).toThrow(
      /cannot create restore spill file .*BACKTRACK_RESTORE_TEMP_DIR/,
    );
  });
});
