-- core.fact_mobility: international mobility stays, incoming and outgoing.
-- Grain: one row per mobility stay (no natural key; rows are ordered on all their columns).
-- Source: staging.mobility, already normalised and free of duplicates (duplicates are
-- quarantined upstream, not dropped here).
-- duration_months = round(days between start_date and end_date / 30.4375, 1), where
-- 30.4375 = 365.25 / 12 is the mean length of a month.
CREATE SCHEMA IF NOT EXISTS core;

CREATE OR REPLACE TABLE core.fact_mobility AS
SELECT
    school_code,
    student_key,
    direction,
    scheme,
    partner_institution,
    partner_country,
    academic_year,
    start_date,
    end_date,
    CAST(round(date_diff('day', start_date, end_date) / 30.4375, 1) AS DECIMAL(5, 1))
        AS duration_months,
    load_id,
    source_file,
    loaded_at
FROM staging.mobility
ORDER BY school_code, academic_year, direction, student_key, start_date, end_date, scheme,
         partner_country, partner_institution, load_id, source_file, loaded_at;

COMMENT ON TABLE core.fact_mobility IS 'Mobility stays: one row per stay of a student, either incoming (a partner''s student hosted by the IMT school) or outgoing (an IMT student abroad), with its scheme, partner and dates.';
COMMENT ON COLUMN core.fact_mobility.school_code IS 'IMT school sending (outgoing) or hosting (incoming) the student (see core.dim_school).';
COMMENT ON COLUMN core.fact_mobility.student_key IS 'Pseudonymous student identifier: HMAC-SHA256 of the school and its local student id, keyed by a secret held outside the warehouse. The same student has the same key in core.fact_enrolment of that school.';
COMMENT ON COLUMN core.fact_mobility.direction IS 'incoming (student from a partner hosted by the school) or outgoing (the school''s student going abroad).';
COMMENT ON COLUMN core.fact_mobility.scheme IS 'Mobility scheme: erasmus (Erasmus+), time_double_degree (T.I.M.E. network double degree), bilateral_exchange, internship_abroad or other.';
COMMENT ON COLUMN core.fact_mobility.partner_institution IS 'Name of the partner institution or host organisation, as exported; NULL when not given.';
COMMENT ON COLUMN core.fact_mobility.partner_country IS 'Country of the partner (host country for outgoing stays, home country of the partner for incoming), ISO 3166-1 alpha-2 (see core.dim_country).';
COMMENT ON COLUMN core.fact_mobility.academic_year IS 'Academic year of the stay as its starting calendar year (2024 = 2024-25), as reported by the school.';
COMMENT ON COLUMN core.fact_mobility.start_date IS 'First day of the stay.';
COMMENT ON COLUMN core.fact_mobility.end_date IS 'Last day of the stay (never before start_date).';
COMMENT ON COLUMN core.fact_mobility.duration_months IS 'Length of the stay in months, DECIMAL(5,1): round(number of days from start_date to end_date / 30.4375, 1), 30.4375 days being the mean month (365.25 / 12).';
COMMENT ON COLUMN core.fact_mobility.load_id IS 'Load that brought this row in (audit.loads.load_id): links the row to its source file, checksum and load time.';
COMMENT ON COLUMN core.fact_mobility.source_file IS 'Source export the row came from, as a path relative to the landing zone.';
COMMENT ON COLUMN core.fact_mobility.loaded_at IS 'Timestamp at which the row was loaded into the pipeline.';
