-- core.dim_school: the IMT schools (reference dimension).
-- Grain: one row per school_code. Source: staging.school, filled from pipelines/*.yaml and,
-- for the official codes, reference/imt_school_identifiers.csv (each code with its source;
-- a code that was not found stays NULL).
SELECT
    school_code,
    school_name,
    city,
    uai,
    erasmus_code,
    time_member_since,
    uai_source,
    uai_status,
    erasmus_code_source
FROM {{ source('reference', 'school') }}
ORDER BY school_code
