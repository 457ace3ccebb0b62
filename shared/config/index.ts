export {
  type ApiConfig,
  type ArchiverConfig,
  type CaptureConfig,
  type RestoreConfig,
  CONFIG_FILE_VARIABLE,
  type CatalogConfig,
  type Config,
  type ConfigSection,
  DEFAULT_RATE_LIMITS,
  type EncryptionConfig,
  type JobsConfig,
  type KafkaConfig,
  loadConfig,
  requireSection,
  type S3Config,
  type SnapshotConfig,
  type SourceConfig,
} from './load.js';
export { CONFIG_VARIABLES, configSchema, type ConfigEnv } from './schema.js';
export { renderConfigReference } from './reference.js';
