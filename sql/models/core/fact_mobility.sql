-- core.fact_mobility: international mobility stays, incoming and outgoing, of students and
-- (population 'staff') of teaching and research staff.
-- Grain: one row per mobility stay (no natural key; rows are ordered on all their columns).
-- Source: staging.mobility, already normalised and free of duplicates (duplicates are
-- quarantined upstream, not dropped here).
-- duration_months = round(days between start_date and end_date / 30.4375, 1), where
-- 30.4375 = 365.25 / 12 is the mean length of a month.
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['school_code', 'academic_year'],
    pre_hook="{{ delete_changed_partitions('mobility') }}",
    meta={'imtetl': {'changed_partitions_of': 'mobility'}},
) }}

SELECT
    school_code,
    student_key,
    population,
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
FROM {{ source('staging', 'mobility') }} AS staged
{% if is_incremental() %}
WHERE {{ changed_partition('mobility', 'staged') }}
{% endif %}
ORDER BY school_code, academic_year, population, direction, student_key, start_date, end_date, scheme,
         partner_country, partner_institution, load_id, source_file, loaded_at
