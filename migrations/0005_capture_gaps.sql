-- WAL that capture lost: the slot was found confirmed past the capture checkpoint, so the
-- changes between them never reached Kafka and Postgres will not send them again (DESIGN
-- §2.2). Recorded by capture before it resumes at the slot; restore-points, plans and health
-- read it. A restore to an instant after the last commit before a gap needs a snapshot
-- taken after the gap was found.
CREATE TABLE backtrack.capture_gaps (
  slot               text NOT NULL,
  topic              text NOT NULL,
  from_lsn           pg_lsn NOT NULL,
  to_lsn             pg_lsn NOT NULL CHECK (to_lsn > from_lsn),
  -- Commit time of the last transaction in Kafka before the gap: changes after it may be lost.
  after_commit_time  timestamptz NOT NULL,
  detected_at        timestamptz NOT NULL,
  PRIMARY KEY (slot, from_lsn, to_lsn)
);
CREATE INDEX capture_gaps_topic ON backtrack.capture_gaps (topic, detected_at);
