-- core.fact_enrolment: student enrolments.
-- Grain: one row per student, programme and academic year (school_code, academic_year,
-- programme_id, student_key). Source: staging.enrolment, already normalised and free of
-- duplicates (duplicates are quarantined upstream, not dropped here).
CREATE SCHEMA IF NOT EXISTS core;

CREATE OR REPLACE TABLE core.fact_enrolment AS
SELECT
    school_code,
    academic_year,
    student_key,
    school_code || ':' || programme_code AS programme_id,
    study_year,
    is_new_entrant,
    nationality,
    prior_degree_country,
    admission_route,
    study_mode,
    fee_category,
    sex,
    load_id,
    source_file,
    loaded_at
FROM staging.enrolment
ORDER BY school_code, academic_year, programme_id, student_key;

COMMENT ON TABLE core.fact_enrolment IS 'Enrolments: one row per student, programme and academic year, from the schools'' enrolment exports. Students are pseudonymised (student_key); no name, e-mail, birth date or local student number is stored.';
COMMENT ON COLUMN core.fact_enrolment.school_code IS 'School where the student is enrolled (see core.dim_school).';
COMMENT ON COLUMN core.fact_enrolment.academic_year IS 'Academic year as its starting calendar year (2024 = 2024-25).';
COMMENT ON COLUMN core.fact_enrolment.student_key IS 'Pseudonymous student identifier: HMAC-SHA256 of the school and its local student id, keyed by a secret held outside the warehouse. Stable across years within a school; cannot be reversed to the person.';
COMMENT ON COLUMN core.fact_enrolment.programme_id IS 'Programme followed, school_code || '':'' || programme_code (see core.dim_programme for name, level and language).';
COMMENT ON COLUMN core.fact_enrolment.study_year IS 'Year of study within the programme (1 = first year); NULL when the export does not give it.';
COMMENT ON COLUMN core.fact_enrolment.is_new_entrant IS 'TRUE when the student entered the programme this academic year (a new intake), FALSE for continuing students.';
COMMENT ON COLUMN core.fact_enrolment.nationality IS 'Student''s nationality, ISO 3166-1 alpha-2 (see core.dim_country).';
COMMENT ON COLUMN core.fact_enrolment.prior_degree_country IS 'Country where the student obtained the degree giving access to the programme, ISO 3166-1 alpha-2; NULL when unknown.';
COMMENT ON COLUMN core.fact_enrolment.admission_route IS 'How the student was admitted: cpge_exam (competitive exam after classes préparatoires), admission_on_title (admission on the basis of a prior degree), post_bac, international_application, double_degree, exchange or other.';
COMMENT ON COLUMN core.fact_enrolment.study_mode IS 'Mode of study: initial (full-time student), apprenticeship (apprentissage, work-study contract) or continuing_education (formation continue).';
COMMENT ON COLUMN core.fact_enrolment.fee_category IS 'Tuition fee regime the student pays: eu (EU/EEA/Swiss regime) or non_eu. Matches core.fact_tuition_fee.fee_category.';
COMMENT ON COLUMN core.fact_enrolment.sex IS 'Sex as recorded by the school: F or M; NULL when not given.';
COMMENT ON COLUMN core.fact_enrolment.load_id IS 'Load that brought this row in (audit.loads.load_id): links the row to its source file, checksum and load time.';
COMMENT ON COLUMN core.fact_enrolment.source_file IS 'Source export the row came from, as a path relative to the landing zone.';
COMMENT ON COLUMN core.fact_enrolment.loaded_at IS 'Timestamp at which the row was loaded into the pipeline.';
