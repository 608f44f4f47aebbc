-- core.dim_country: countries as they appear in nationalities, prior-degree countries and
-- mobility partner countries. Grain: one row per ISO 3166-1 alpha-2 country_code.
-- Source: staging.country (maintained reference list).
SELECT
    country_code,
    name_en,
    name_fr,
    is_eu_eea,
    world_region,
    eu_fee_regime
FROM {{ source('reference', 'country') }}
ORDER BY country_code
