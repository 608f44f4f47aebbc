-- core.fact_tuition_fee: the schools' tuition fee grids.
-- Grain: one row per programme, academic year and fee category (school_code, programme_id,
-- academic_year, fee_category). Source: staging.tuition, already normalised and free of
-- duplicates (duplicates are quarantined upstream, not dropped here).
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['school_code', 'academic_year'],
    pre_hook="{{ delete_changed_partitions('tuition') }}",
    meta={'imtetl': {'changed_partitions_of': 'tuition'}},
) }}

SELECT
    school_code,
    school_code || ':' || programme_code AS programme_id,
    academic_year,
    fee_category,
    CAST(annual_fee_eur AS DECIMAL(10, 2)) AS annual_fee_eur,
    load_id,
    source_file,
    loaded_at
FROM {{ source('staging', 'tuition') }} AS staged
{% if is_incremental() %}
WHERE {{ changed_partition('tuition', 'staged') }}
{% endif %}
ORDER BY school_code, programme_id, academic_year, fee_category
