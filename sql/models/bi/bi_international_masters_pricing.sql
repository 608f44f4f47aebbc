-- bi.international_masters_pricing: marts.international_masters_pricing with small counts
-- masked. Implied counts: EU students (enrolled − enrolled_non_eu) and continuing non-EU
-- students (enrolled_non_eu − new_entrants_non_eu); revenue reveals the counts, so it goes too.
{{ config(alias='international_masters_pricing') }}

WITH flagged AS (
    SELECT *,
        coalesce(enrolled BETWEEN 1 AND 10 OR enrolled_non_eu BETWEEN 1 AND 10
         OR new_entrants_non_eu BETWEEN 1 AND 10
         OR enrolled - enrolled_non_eu BETWEEN 1 AND 10
         OR enrolled_non_eu - new_entrants_non_eu BETWEEN 1 AND 10, false) AS masked
    FROM {{ ref('international_masters_pricing') }}
)
SELECT
    school_code, programme_id, programme_name, programme_level, academic_year,
    fee_eu_eur, fee_non_eu_eur, non_eu_premium_eur,
    -- the mart's exact change, rounded half away from zero to 2 decimals from the fees in cents
    CASE WHEN fee_non_eu_change_pct IS NOT NULL THEN
        {{ round_half_away(
            'CAST((fee_non_eu_eur - prev_fee_non_eu_eur) * 10000 AS BIGINT)',
            'CAST(prev_fee_non_eu_eur * 100 AS BIGINT)', 2) }}
    END AS fee_non_eu_change_pct,
    non_eu_fee_rank,
    CASE WHEN masked THEN NULL ELSE enrolled END AS enrolled,
    CASE WHEN masked THEN NULL ELSE enrolled_non_eu END AS enrolled_non_eu,
    CASE WHEN masked THEN NULL ELSE new_entrants_non_eu END AS new_entrants_non_eu,
    CASE WHEN masked THEN NULL ELSE expected_fee_revenue_eur END AS expected_fee_revenue_eur,
    masked
FROM flagged
