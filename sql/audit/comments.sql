-- Descriptions of the audit tables (created by sql/staging/00_staging.sql and filled by the
-- pipeline): audit.loads, one row per load of one source file; audit.quarantine, one row per
-- rejected source row (or per rejected file).
COMMENT ON TABLE audit.loads IS 'Load journal: one row per load of one source file into one school-year (one school, one dataset, one academic year). Accounting identity: rows_read = rows_loaded + rows_quarantined, always. Use it to trace any fact row (via load_id) to its file and checksum, and to see which files failed.';
COMMENT ON COLUMN audit.loads.load_id IS 'Primary key of the load; every fact row and quarantined row carries the load_id that produced it.';
COMMENT ON COLUMN audit.loads.run_id IS 'Identifier of the pipeline run (Dagster run id) that performed the load; NULL when loaded outside a run.';
COMMENT ON COLUMN audit.loads.school_code IS 'School whose export was loaded (see core.dim_school), or MESR for the ministry''s national open data (the register of institutions and the enrolment statistics behind marts.national_comparison).';
COMMENT ON COLUMN audit.loads.dataset IS 'Dataset of the file: enrolment, tuition or mobility; for MESR, national_institutions or national_enrolment_statistics.';
COMMENT ON COLUMN audit.loads.source_file IS 'Loaded file, as a path relative to the landing zone; for MESR, the portal''s export URL the file was downloaded from.';
COMMENT ON COLUMN audit.loads.sha256 IS 'SHA-256 checksum (hex) of the file''s bytes as loaded: identifies exactly which version of the file was read; NULL if the file could not be read.';
COMMENT ON COLUMN audit.loads.rows_read IS 'Number of data rows read from the file (header excluded). Equals rows_loaded + rows_quarantined.';
COMMENT ON COLUMN audit.loads.rows_loaded IS 'Number of rows accepted into the warehouse from this file.';
COMMENT ON COLUMN audit.loads.rows_quarantined IS 'Number of rows rejected into audit.quarantine (bad value, unknown code, duplicate...).';
COMMENT ON COLUMN audit.loads.started_at IS 'Timestamp at which the load of the file started.';
COMMENT ON COLUMN audit.loads.finished_at IS 'Timestamp at which the load finished; NULL if it never finished.';
COMMENT ON COLUMN audit.loads.status IS 'Outcome of the load: loaded (file accepted, possibly with quarantined rows) or failed (whole file rejected: empty, truncated, wrong encoding, missing required column...; see error).';
COMMENT ON COLUMN audit.loads.error IS 'Error message explaining why the file failed; NULL for a successful load.';
COMMENT ON COLUMN audit.loads.is_current IS 'TRUE for the load whose rows the warehouse holds now for that file and academic year; FALSE for superseded or failed earlier loads kept for history.';
COMMENT ON TABLE audit.quarantine IS 'Quarantine: every rejected source row (or whole rejected file) with the load that rejected it, where, and why. Personal columns are dropped and student ids pseudonymised in the raw record.';
COMMENT ON COLUMN audit.quarantine.load_id IS 'Load that rejected the row (see audit.loads).';
COMMENT ON COLUMN audit.quarantine.school_code IS 'School whose export contained the row (see core.dim_school), or MESR for the ministry''s national open data.';
COMMENT ON COLUMN audit.quarantine.dataset IS 'Dataset of the file: enrolment, tuition or mobility; for MESR, national_institutions or national_enrolment_statistics.';
COMMENT ON COLUMN audit.quarantine.source_file IS 'File the row came from, as a path relative to the landing zone.';
COMMENT ON COLUMN audit.quarantine.row_number IS '1-based data row number in the source file (header excluded); NULL when the whole file was rejected.';
COMMENT ON COLUMN audit.quarantine."column" IS 'Canonical column whose value caused the rejection; NULL when the reason concerns the whole row or file.';
COMMENT ON COLUMN audit.quarantine.reason IS 'Human-readable reason for the rejection, e.g. unknown country, negative fee, missing programme, duplicate student row, end date before start date.';
COMMENT ON COLUMN audit.quarantine.raw_record IS 'The rejected record as JSON of its mapped source columns, with personal columns (names, e-mails, birth dates, addresses) dropped and student ids pseudonymised.';
COMMENT ON COLUMN audit.loads.academic_year IS 'Academic year (start year) of the rows this load fed: the school x year partition it belongs to. One file holding several years has one load per year; NULL for the load holding a file''s rows of no partition (their year unreadable, or outside the warehouse''s years), all quarantined with that reason.';
COMMENT ON COLUMN audit.loads.note IS 'A remark on the load, e.g. that the ministry''s portal did not answer and the cached copy of its export (downloaded at the time given) was loaded instead; NULL when there is nothing to say.';
COMMENT ON TABLE audit.deliveries IS 'Deliveries: one row per school, dataset and academic year that the school covers (the years of its YAML, else the years its data holds) or sent: whether an export was expected and received, when last, and its rows. A missing delivery (expected, not received) is a warning shown here, never a failed build.';
COMMENT ON COLUMN audit.deliveries.school_code IS 'School (see core.dim_school).';
COMMENT ON COLUMN audit.deliveries.dataset IS 'Dataset: enrolment, tuition or mobility.';
COMMENT ON COLUMN audit.deliveries.academic_year IS 'Academic year (start year), one of the warehouse''s years (IMTETL_YEARS).';
COMMENT ON COLUMN audit.deliveries.expected IS 'TRUE when the school is expected to deliver this year: inside the years its YAML declares for the dataset, or, when it declares none, a year its data holds.';
COMMENT ON COLUMN audit.deliveries.received IS 'TRUE when an export holding rows of this year was received (loaded, or failed with its reason in audit.loads). expected AND NOT received is a missing delivery.';
COMMENT ON COLUMN audit.deliveries.last_received_at IS 'When the last load of this school, dataset and year finished; NULL if never received.';
COMMENT ON COLUMN audit.deliveries.rows IS 'Rows read for this year in the loads the warehouse holds now (0 when not received).';
COMMENT ON COLUMN audit.deliveries.files IS 'Number of distinct export files that delivered rows of this year.';
