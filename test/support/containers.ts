/**
 * The stack on a Docker engine, through testcontainers, for machines that have one.
 * Same servers as infra/stack: Postgres with wal_level=logical, Kafka 3.9 in KRaft mode
 * (Confluent's 7.9 image), and MinIO as the S3-compatible server.
 */
import { KafkaContainer } from '@testcontainers/kafka';
import { MinioContainer } from '@testcontainers/minio';
import { PostgreSqlContainer } from '@testcontainers/postgresql';
import { getContainerRuntimeClient } from 'testcontainers';

/** Started containers and their settings. */
export interface ContainerStack {
  readonly settings: Record<string, string>;
  readonly adminUrl: string;
  stop(): Promise<void>;
}

/** True when a Docker (or compatible) engine answers. */
export async function dockerAnswers(): Promise<boolean> {
  try {
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

/** Starts Postgres, Kafka and MinIO containers. */
export async function startContainers(): Promise<ContainerStack> {
  const [postgres, kafka, minio] = await Promise.all([
    new PostgreSqlContainer('postgres:16-alpine')
      .withDatabase('backtrack')
      .withUsername('postgres')
      .withPassword('postgres')
      .withCommand([
        'postgres',
        '-c',
        'wal_level=logical',
        '-c',
        'max_replication_slots=64',
        '-c',
        'max_wal_senders=64',
        '-c',
        'max_connections=400',
        '-c',
        'fsync=off',
      ])
      .start(),
    new KafkaContainer('confluentinc/cp-kafka:7.9.0').withKraft().start(),
    new MinioContainer('minio/minio:RELEASE.2025-04-22T22-12-26Z')
      .withUsername('backtrack')
      .withPassword('backtrack-secret')
      .start(),
  ]);
  const url = postgres.getConnectionUri();
  return {
    adminUrl: url,
    settings: {
      BACKTRACK_SOURCE_URL: url,
      BACKTRACK_CATALOG_URL: url,
      BACKTRACK_KAFKA_BROKERS: `${kafka.getHost()}:${kafka.getMappedPort(9093)}`,
      BACKTRACK_S3_ENDPOINT: minio.getConnectionUrl(),
      BACKTRACK_S3_REGION: 'us-east-1',
      BACKTRACK_S3_BUCKET: 'backtrack',
      BACKTRACK_S3_ACCESS_KEY_ID: minio.getUsername(),
      BACKTRACK_S3_SECRET_ACCESS_KEY: minio.getPassword(),
      BACKTRACK_S3_FORCE_PATH_STYLE: 'true',
    },
    stop: async () => {
      await Promise.all([postgres.stop(), kafka.stop(), minio.stop()]);
    },
  };
}
