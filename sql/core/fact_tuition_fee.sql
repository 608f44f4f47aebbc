-- core.fact_tuition_fee: the schools' tuition fee grids.
-- Grain: one row per programme, academic year and fee category (school_code, programme_id,
-- academic_year, fee_category). Source: staging.tuition, already normalised and free of
-- duplicates (duplicates are quarantined upstream, not dropped here).
CREATE SCHEMA IF NOT EXISTS core;

CREATE OR REPLACE TABLE core.fact_tuition_fee AS
SELECT
    school_code,
    school_code || ':' || programme_code AS programme_id,
    academic_year,
    fee_category,
    CAST(annual_fee_eur AS DECIMAL(10, 2)) AS annual_fee_eur,
    load_id,
    source_file,
    loaded_at
FROM staging.tuition
ORDER BY school_code, programme_id, academic_year, fee_category;

COMMENT ON TABLE core.fact_tuition_fee IS 'Tuition fee grid: one row per programme, academic year and fee category, as published by each school. The fee a student pays is the row matching their programme, year and fee_category.';
COMMENT ON COLUMN core.fact_tuition_fee.school_code IS 'School setting the fee (see core.dim_school).';
COMMENT ON COLUMN core.fact_tuition_fee.programme_id IS 'Programme the fee applies to, school_code || '':'' || programme_code (see core.dim_programme).';
COMMENT ON COLUMN core.fact_tuition_fee.academic_year IS 'Academic year as its starting calendar year (2024 = 2024-25).';
COMMENT ON COLUMN core.fact_tuition_fee.fee_category IS 'Fee regime: eu (EU/EEA/Swiss nationals) or non_eu (all other nationals).';
COMMENT ON COLUMN core.fact_tuition_fee.annual_fee_eur IS 'Annual tuition fee in euros for one student of this category for the academic year, DECIMAL(10,2).';
COMMENT ON COLUMN core.fact_tuition_fee.load_id IS 'Load that brought this row in (audit.loads.load_id): links the row to its source file, checksum and load time.';
COMMENT ON COLUMN core.fact_tuition_fee.source_file IS 'Source export the row came from, as a path relative to the landing zone.';
COMMENT ON COLUMN core.fact_tuition_fee.loaded_at IS 'Timestamp at which the row was loaded into the pipeline.';
