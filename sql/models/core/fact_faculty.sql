-- core.fact_faculty: the teaching and research staff.
-- Grain: one row per staff member, academic year and appointment (school_code, academic_year,
-- staff_key, category, department; department may be NULL). A member of staff with split
-- appointments (two departments, or two categories) has one row for each, whose fte add up
-- to at most 1. Source: staging.faculty, already normalised and free of duplicates
-- (duplicates are quarantined upstream, not dropped here).
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['school_code', 'academic_year'],
    pre_hook="{{ delete_changed_partitions('faculty') }}",
    meta={'imtetl': {'changed_partitions_of': 'faculty'}},
) }}

SELECT
    school_code,
    academic_year,
    staff_key,
    category,
    department,
    nationality,
    country_of_previous_position,
    is_new_hire,
    CAST(fte AS DECIMAL(4, 3)) AS fte,
    teaches_in_english,
    load_id,
    source_file,
    loaded_at
FROM {{ source('staging', 'faculty') }} AS staged
{% if is_incremental() %}
WHERE {{ changed_partition('faculty', 'staged') }}
{% endif %}
ORDER BY school_code, academic_year, staff_key, category, department NULLS FIRST
