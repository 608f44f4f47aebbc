-- core.dim_programme: the programmes of study of every school.
-- Grain: one row per programme_id (= school_code || ':' || programme_code), for every
-- programme appearing in staging.enrolment or staging.tuition.
-- Descriptive attributes come from the programme's most recent appearance:
--   * programme_name / programme_level: latest academic_year; at equal year a tuition row
--     wins over an enrolment row; remaining ties are broken alphabetically (name, then level,
--     NULL names last). If the winning row has no name, the name falls back to the most
--     recent row (same ordering) that has one.
--   * teaching_language: the most recent tuition row that states one (ties: alphabetical).
CREATE SCHEMA IF NOT EXISTS core;

CREATE OR REPLACE TABLE core.dim_programme AS
WITH appearances AS (
    SELECT DISTINCT
        school_code, programme_code, academic_year, programme_name, programme_level,
        0 AS source_priority                       -- tuition preferred at equal year
    FROM staging.tuition
    UNION ALL
    SELECT DISTINCT
        school_code, programme_code, academic_year, programme_name, programme_level,
        1 AS source_priority
    FROM staging.enrolment
),
ordered AS (
    SELECT
        *,
        row_number() OVER (
            PARTITION BY school_code, programme_code
            ORDER BY academic_year DESC, source_priority, programme_name ASC NULLS LAST,
                     programme_level
        ) AS recency_rank,
        row_number() OVER (
            PARTITION BY school_code, programme_code
            ORDER BY programme_name IS NULL, academic_year DESC, source_priority,
                     programme_name, programme_level
        ) AS named_recency_rank
    FROM appearances
),
years AS (
    SELECT
        school_code, programme_code,
        min(academic_year) AS first_academic_year,
        max(academic_year) AS last_academic_year
    FROM appearances
    GROUP BY school_code, programme_code
),
languages AS (
    SELECT
        school_code, programme_code, teaching_language,
        row_number() OVER (
            PARTITION BY school_code, programme_code
            ORDER BY academic_year DESC, teaching_language
        ) AS language_rank
    FROM staging.tuition
    WHERE teaching_language IS NOT NULL
)
SELECT
    latest.school_code || ':' || latest.programme_code AS programme_id,
    latest.school_code,
    latest.programme_code,
    coalesce(latest.programme_name, named.programme_name) AS programme_name,
    latest.programme_level,
    lang.teaching_language,
    (latest.programme_level = 'msc' OR coalesce(lang.teaching_language = 'en', FALSE))
        AS is_international_track,
    y.first_academic_year,
    y.last_academic_year
FROM ordered AS latest
JOIN years AS y
    ON y.school_code = latest.school_code AND y.programme_code = latest.programme_code
LEFT JOIN ordered AS named
    ON named.school_code = latest.school_code AND named.programme_code = latest.programme_code
    AND named.named_recency_rank = 1
LEFT JOIN languages AS lang
    ON lang.school_code = latest.school_code AND lang.programme_code = latest.programme_code
    AND lang.language_rank = 1
WHERE latest.recency_rank = 1
ORDER BY programme_id;

COMMENT ON TABLE core.dim_programme IS 'Programmes of study: one row per programme of a school (key programme_id), for every programme that appears in an enrolment or tuition export. Name and level are those of the programme''s most recent academic year (the fee grid wins over enrolment at equal year).';
COMMENT ON COLUMN core.dim_programme.programme_id IS 'Primary key. school_code || '':'' || programme_code, e.g. ''IMTA:MSC-CYBER''. Unique across IMT; used by every fact and mart.';
COMMENT ON COLUMN core.dim_programme.school_code IS 'School offering the programme (see core.dim_school).';
COMMENT ON COLUMN core.dim_programme.programme_code IS 'The school''s own code for the programme, as exported (unique only within the school).';
COMMENT ON COLUMN core.dim_programme.programme_name IS 'Programme name from its most recent academic year (tuition grid preferred over enrolment at equal year, alphabetical on ties); falls back to the most recent non-empty name. NULL when no export ever named it.';
COMMENT ON COLUMN core.dim_programme.programme_level IS 'Level of the programme in its most recent academic year: bachelor, engineering (diplôme d''ingénieur), msc (international master''s tracks and MSc), mastere_specialise, national_master, phd, exchange or other.';
COMMENT ON COLUMN core.dim_programme.teaching_language IS 'Main teaching language, ISO 639-1 (fr, en), from the most recent tuition row that states one; NULL when no tuition row gives it.';
COMMENT ON COLUMN core.dim_programme.is_international_track IS 'TRUE when programme_level = ''msc'' or teaching_language = ''en''; FALSE otherwise (including when the language is unknown and the level is not msc).';
COMMENT ON COLUMN core.dim_programme.first_academic_year IS 'First academic year (starting calendar year, 2024 = 2024-25) in which the programme appears in enrolment or tuition exports.';
COMMENT ON COLUMN core.dim_programme.last_academic_year IS 'Last academic year (starting calendar year, 2024 = 2024-25) in which the programme appears in enrolment or tuition exports.';
