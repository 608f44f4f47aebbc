-- core.dim_programme: the programmes of study of every school.
-- Grain: one row per programme_id (= school_code || ':' || programme_code), for every
-- programme appearing in staging.enrolment or staging.tuition.
-- Descriptive attributes come from the programme's most recent appearance:
--   * programme_name / programme_level: latest academic_year; at equal year a tuition row
--     wins over an enrolment row; remaining ties are broken alphabetically (name, then level,
--     NULL names last). If the winning row has no name, the name falls back to the most
--     recent row (same ordering) that has one.
--   * teaching_language: the most recent tuition row that states one (ties: alphabetical).
WITH appearances AS (
    SELECT DISTINCT
        school_code, programme_code, academic_year, programme_name, programme_level,
        0 AS source_priority                       -- tuition preferred at equal year
    FROM {{ source('staging', 'tuition') }}
    UNION ALL
    SELECT DISTINCT
        school_code, programme_code, academic_year, programme_name, programme_level,
        1 AS source_priority
    FROM {{ source('staging', 'enrolment') }}
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
    FROM {{ source('staging', 'tuition') }}
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
ORDER BY programme_id
