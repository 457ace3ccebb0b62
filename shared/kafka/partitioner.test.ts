import { Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';

import { isBacktrackError } from '../errors.js';

import { explicitPartition, murmur2, partitionForKey } from './partitioner.js';

describe('partitionForKey', () => {
  it('agrees with the Java-compatible partitioner of kafkajs, for every key length and partition count', () => {
    const partitioner = Partitioners.DefaultPartitioner();
    const keys = [
      '',
      'a',
      'ab',
      'abc',
      'abcd',
      'acme',
      'tenant-42',
      '_all',
      '_global',
      'café',
      '🦆🦆',
      'x'.repeat(101),
    ];
    for (let i = 0; i < 200; i++) keys.push(`tenant-${i}-${'z'.repeat(i % 7)}`);
    for (const partitions of [1, 3, 12, 50]) {
      const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({
        partitionId,
        leader: 0,
        partitionErrorCode: 0,
        replicas: [0],
        isr: [0],
      }));
      for (const key of keys) {
        const expected = partitioner({
          topic: 't',
          partitionMetadata,
          message: { key, value: null },
        });
        expect(partitionForKey(key, partitions)).toBe(expected);
      }
    }
  });

  it('matches the Java client on known vectors', () => {
    // org.apache.kafka.common.utils.UtilsTest#testMurmur2
    expect(murmur2(Buffer.from('21'))).toBe(-973932308);
    expect(murmur2(Buffer.from('foobar'))).toBe(-790332482);
    expect(murmur2(Buffer.from('a-little-bit-long-string'))).toBe(-985981536);
    expect(murmur2(Buffer.from('a-little-bit-longer-string'))).toBe(-1486304829);
    expect(murmur2(Buffer.from('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8'))).toBe(
      -58897971,
    );
    expect(murmur2(Buffer.from([97, 98, 99]))).toBe(479470107);
  });

  it('refuses a topic without partitions', () => {
    expect(() => partitionForKey('a', 0)).toThrow(/at least one partition/);
  });
});

describe('explicitPartition', () => {
  const record = (partition?: number) => ({ topic: 't', key: 'k', value: null, partition });

  it('passes on the partition a record names', () => {
    expect(explicitPartition(record(0))).toBe(0);
    expect(explicitPartition(record(11))).toBe(11);
  });

  it.each([
    ['none', undefined],
    ['a negative one', -1],
    ['a fraction', 1.5],
    ['NaN', Number.NaN],
  ])('refuses a record with %s, naming the topic', (_, partition) => {
    const error = (() => {
      try {
        return explicitPartition(record(partition));
      } catch (e) {
        return e;
      }
    })();
    expect(isBacktrackError(error, 'INTERNAL')).toBe(true);
    expect(String((error as Error).message)).toMatch(/topic t has no valid partition/);
  });
});
