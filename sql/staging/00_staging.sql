-- Staging layer of the build database (never published).
-- The three canonical tables (staging.enrolment, staging.tuition, staging.mobility: one per
-- dataset, written partition by partition by the Dagster staging assets, every row already
-- normalised to the contract's codes and types) are generated from src/imtetl/contract.py
-- and applied after this file (imtetl.load.build_db.staging_ddl). This file holds the rest.
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS staging;
CREATE SCHEMA IF NOT EXISTS audit;

-- Reference tables filled by the pipeline from maintained libraries and pipelines/*.yaml.
CREATE TABLE IF NOT EXISTS staging.school (
    school_code VARCHAR PRIMARY KEY,
    school_name VARCHAR NOT NULL,
    city VARCHAR,
    uai VARCHAR,
    erasmus_code VARCHAR,
    time_member_since INTEGER
);
-- Where each official code comes from (reference/imt_school_identifiers.csv).
ALTER TABLE staging.school ADD COLUMN IF NOT EXISTS uai_source VARCHAR;
ALTER TABLE staging.school ADD COLUMN IF NOT EXISTS uai_status VARCHAR;
ALTER TABLE staging.school ADD COLUMN IF NOT EXISTS erasmus_code_source VARCHAR;

CREATE TABLE IF NOT EXISTS staging.country (
    country_code VARCHAR PRIMARY KEY,    -- ISO 3166-1 alpha-2
    name_en VARCHAR NOT NULL,
    name_fr VARCHAR,
    is_eu_eea BOOLEAN NOT NULL,          -- EU 27 + Iceland, Liechtenstein, Norway
    eu_fee_regime BOOLEAN NOT NULL,      -- EU/EEA or Switzerland: pays the 'eu' fee
    world_region VARCHAR NOT NULL        -- UN M49 sub-region (e.g. 'Northern Africa')
);

CREATE TABLE IF NOT EXISTS audit.loads (
    load_id VARCHAR PRIMARY KEY,
    run_id VARCHAR,
    school_code VARCHAR NOT NULL,
    dataset VARCHAR NOT NULL,            -- enrolment|tuition|mobility
    source_file VARCHAR NOT NULL,
    sha256 VARCHAR,
    rows_read BIGINT NOT NULL,
    rows_loaded BIGINT NOT NULL,
    rows_quarantined BIGINT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    status VARCHAR NOT NULL,             -- loaded|failed
    error VARCHAR,
    is_current BOOLEAN NOT NULL,         -- the load whose rows the warehouse holds now for that file and year
    academic_year INTEGER                -- the school-year (partition) the load fed; NULL: rows of no partition
);

-- Per school, dataset and academic year: expected (its YAML's years) and received (load/deliveries.py).
CREATE TABLE IF NOT EXISTS audit.deliveries (
    school_code VARCHAR NOT NULL,
    dataset VARCHAR NOT NULL,
    academic_year INTEGER NOT NULL,
    expected BOOLEAN NOT NULL,
    received BOOLEAN NOT NULL,
    last_received_at TIMESTAMP,
    rows BIGINT NOT NULL,
    files BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS audit.quarantine (
    load_id VARCHAR NOT NULL,
    school_code VARCHAR NOT NULL,
    dataset VARCHAR NOT NULL,
    source_file VARCHAR NOT NULL,
    row_number INTEGER,                  -- 1-based data row in the source file, NULL for a whole-file rejection
    "column" VARCHAR,
    reason VARCHAR NOT NULL,
    raw_record VARCHAR                   -- JSON of the mapped source columns, ids pseudonymised
);

-- One row per publish: written into each release by publish/release.py and, once that release
-- is renamed over the published file, here; every release carries the whole history.
CREATE TABLE IF NOT EXISTS audit.releases (
    release_id VARCHAR PRIMARY KEY,      -- <UTC yyyymmddThhmmssZ>-<6 hex>: sorts in publish order
    published_at TIMESTAMP NOT NULL,     -- UTC
    backend VARCHAR NOT NULL,            -- duckdb_file (a DuckLake backend records its snapshot)
    location VARCHAR NOT NULL,           -- where the backend keeps it: a file, a snapshot
    previous_release_id VARCHAR,
    publish_mode VARCHAR NOT NULL,       -- full|incremental
    summary VARCHAR NOT NULL,            -- what changed, readable
    changes JSON NOT NULL,               -- what changed, structured
    fact_rows JSON NOT NULL,             -- {"core.fact_enrolment": rows, ...}
    table_rows JSON NOT NULL,            -- every published table's rows
    run_id VARCHAR
);

CREATE TABLE IF NOT EXISTS staging.regulated_tuition (
    school_code VARCHAR NOT NULL,
    programme_level VARCHAR NOT NULL,
    first_academic_year INTEGER NOT NULL,
    last_academic_year INTEGER NOT NULL,
    fee_category VARCHAR NOT NULL,
    annual_fee_eur DECIMAL(10, 2) NOT NULL,
    also_allowed_eur DECIMAL(10, 2),
    legal_reference VARCHAR NOT NULL,
    source_url VARCHAR NOT NULL,
    source_type VARCHAR
);

-- Build bookkeeping (never published): which school-years of each dataset changed in staging
-- since the core facts were last built from it, and the SQL each fact was built with. A fact
-- is then updated for those school-years only (load/sql_models.py), or rebuilt whole.
CREATE SCHEMA IF NOT EXISTS build_state;
CREATE TABLE IF NOT EXISTS build_state.changed_partitions (
    dataset VARCHAR NOT NULL,
    school_code VARCHAR NOT NULL,
    academic_year INTEGER                -- NULL: every year of the school
);
CREATE TABLE IF NOT EXISTS build_state.models (
    table_name VARCHAR PRIMARY KEY,      -- e.g. core.fact_enrolment
    sql_sha256 VARCHAR NOT NULL,
    built_at TIMESTAMP NOT NULL
);
-- What the next release must take from the core facts: the school-years updated since the
-- last publish, or the whole table (publish/release.py), and the file that publish wrote.
CREATE TABLE IF NOT EXISTS build_state.publish_pending (
    table_name VARCHAR NOT NULL,
    school_code VARCHAR,
    academic_year INTEGER,
    whole BOOLEAN NOT NULL
);
CREATE TABLE IF NOT EXISTS build_state.publication (
    path VARCHAR PRIMARY KEY,
    inode BIGINT NOT NULL,
    size BIGINT NOT NULL,
    mtime_ns BIGINT NOT NULL,
    published_at TIMESTAMP NOT NULL
);

-- A note on a load (e.g. the national data came from the cached copy because the portal was down).
ALTER TABLE audit.loads ADD COLUMN IF NOT EXISTS note VARCHAR;

-- The ministry's national open data (load/national.py), replaced as a whole by each refresh.
-- The register of institutions (fr-esr-principaux-etablissements-enseignement-superieur).
CREATE TABLE IF NOT EXISTS staging.national_institution (
    load_id VARCHAR NOT NULL,
    source_row INTEGER NOT NULL,         -- 1-based data row in the export
    paysage_id VARCHAR NOT NULL,         -- the ministry's internal id (Paysage)
    uai VARCHAR,                         -- current UAI (first code of the export's UAI cell)
    uai_codes VARCHAR[],                 -- every UAI of the institution: current and former
    name VARCHAR,                        -- a few rows of the real register have none
    short_name VARCHAR,
    acronym VARCHAR,
    establishment_type VARCHAR NOT NULL, -- École | Université | Grand établissement | Autre établissement
    sector VARCHAR,                      -- public | privé
    siren VARCHAR,
    city VARCHAR
);

-- Enrolment statistics by institution and academic year (SISE,
-- fr-esr-statistiques-sur-les-effectifs-d-etudiants-inscrits-par-etablissement-hcp).
CREATE TABLE IF NOT EXISTS staging.national_enrolment (
    load_id VARCHAR NOT NULL,
    source_row INTEGER NOT NULL,
    academic_year INTEGER NOT NULL,      -- start year ('2022-23' -> 2022)
    paysage_id VARCHAR NOT NULL,
    name VARCHAR NOT NULL,               -- as published that year, without the trailing ' *'
    establishment_type VARCHAR NOT NULL,
    uai VARCHAR,
    uai_codes VARCHAR[],
    students BIGINT NOT NULL,            -- principal enrolments, excluding CPGE double enrolments
    international_mobility_students BIGINT,
    engineering_students BIGINT,         -- 'Diplôme préparé : Formations d''ingénieurs'
    counted_in_parent BOOLEAN NOT NULL,  -- 'Attention : doubles comptes': also counted in its parent EPE
    is_epe_component BOOLEAN NOT NULL,   -- name marked '*': a component school of an EPE
    current_paysage_id VARCHAR,
    current_name VARCHAR
);
