-- core.fact_enrolment: student enrolments.
-- Grain: one row per student, programme and academic year (school_code, academic_year,
-- programme_id, student_key). Source: staging.enrolment, already normalised and free of
-- duplicates (duplicates are quarantined upstream, not dropped here).
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['school_code', 'academic_year'],
    pre_hook="{{ delete_changed_partitions('enrolment') }}",
    meta={'imtetl': {'changed_partitions_of': 'enrolment'}},
) }}

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
FROM {{ source('staging', 'enrolment') }} AS staged
{% if is_incremental() %}
WHERE {{ changed_partition('enrolment', 'staged') }}
{% endif %}
ORDER BY school_code, academic_year, programme_id, student_key
