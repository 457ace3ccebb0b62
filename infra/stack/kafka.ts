/**
 * A single-node Kafka 3.9 broker in KRaft combined mode, from the Maven Central jars of
 * infra/maven/kafka. Internal topics get replication factor 1 and min ISR 1: with the
 * defaults (3) consumer groups and transactions hang on one node.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { createKafka } from '../../shared/kafka/index.js';
import { silentLogger } from '../../shared/logging.js';

import { run, startDetached } from './processes.js';

/** A running broker. */
export interface KafkaServer {
  readonly pid: number;
  readonly port: number;
  readonly controllerPort: number;
  readonly logFile: string;
  readonly bootstrap: string;
}

const LOG4J = `log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaRaftServer=INFO
log4j.logger.kafka.server.BrokerServer=INFO
`;

function serverProperties(dataDir: string, port: number, controllerPort: number): string {
  return `process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${controllerPort}
listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}
advertised.listeners=PLAINTEXT://127.0.0.1:${port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=${dataDir}
num.partitions=1
num.network.threads=2
num.io.threads=4
auto.create.topics.enable=false
delete.topic.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
min.insync.replicas=1
default.replication.factor=1
group.initial.rebalance.delay.ms=0
message.max.bytes=67108864
replica.fetch.max.bytes=67108864
`;
}

const JVM_OPTIONS = [
  '-Xms256m',
  '-Xmx1g',
  '-XX:+UseG1GC',
  '-XX:MaxGCPauseMillis=20',
  '-Djava.awt.headless=true',
];

/** Formats storage and starts the broker; returns before it answers (see kafkaReady). */
export function startKafka(
  root: string,
  java: string,
  jars: string,
  port: number,
  controllerPort: number,
): KafkaServer {
  const home = join(root, 'kafka');
  const dataDir = join(home, 'data');
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(join(home, 'server.properties'), serverProperties(dataDir, port, controllerPort));
  writeFileSync(join(home, 'log4j.properties'), LOG4J);
  run(
    java,
    [
      '-cp',
      `${jars}/*`,
      `-Dlog4j.configuration=file:${join(home, 'log4j.properties')}`,
      'kafka.tools.StorageTool',
      'format',
      '-t',
      randomUUID(),
      '-c',
      join(home, 'server.properties'),
    ],
    'formatting Kafka storage (kafka.tools.StorageTool format)',
  );
  return launchKafka(root, java, jars, port, controllerPort);
}

/**
 * Starts a broker whose storage startKafka formatted under `root` (again after a stop, on
 * the same ports and data); returns before it answers.
 */
export function launchKafka(
  root: string,
  java: string,
  jars: string,
  port: number,
  controllerPort: number,
): KafkaServer {
  const home = join(root, 'kafka');
  const logFile = join(root, 'kafka.log');
  const pid = startDetached(
    java,
    [
      ...JVM_OPTIONS,
      '-cp',
      `${jars}/*`,
      `-Dlog4j.configuration=file:${join(home, 'log4j.properties')}`,
      `-Dkafka.logs.dir=${home}`,
      'kafka.Kafka',
      join(home, 'server.properties'),
    ],
    logFile,
    home,
  );
  return { pid, port, controllerPort, logFile, bootstrap: `127.0.0.1:${port}` };
}

/**
 * Proves the broker serves what Backtrack needs: it describes the cluster, creates a topic,
 * coordinates a consumer group, and runs a transaction (creating the internal topics now
 * instead of in the first test).
 */
export async function kafkaReady(bootstrap: string): Promise<void> {
  const kafka = createKafka({
    brokers: [bootstrap],
    clientId: 'backtrack-stack',
    log: silentLogger(),
    retries: 2,
  });
  const admin = await kafka.admin();
  try {
    await admin.describeCluster();
    const topic = '_backtrack_stack_probe';
    await admin.ensureTopic({ name: topic, partitions: 1 });
    await admin.groupOffsets('_backtrack_stack_probe', topic);
    const producer = await kafka.transactionalProducer({
      transactionalId: '_backtrack_stack_probe',
    });
    try {
      const transaction = await producer.begin();
      await transaction.send([{ topic, key: 'probe', partition: 0, value: Buffer.from('ok') }]);
      await transaction.commit();
    } finally {
      await producer.disconnect();
    }
  } finally {
    await admin.disconnect();
  }
}
