-- bi.national_comparison: marts.national_comparison for dashboards.
-- A row with any count of 1 to 10 people — students, international mobility students,
-- engineering students, or one implied by subtracting two of them — has its counts, shares
-- and rank masked, as in every bi view. That holds for the national rows too, although the
-- ministry publishes them (open data): the bi schema's rule has no exception, and the
-- mart keeps every figure for analysts.
{{ config(alias='national_comparison') }}

WITH flagged AS (
    SELECT *,
        coalesce(
            students BETWEEN 1 AND 10
            OR international_mobility_students BETWEEN 1 AND 10
            OR engineering_students BETWEEN 1 AND 10
            OR students - international_mobility_students BETWEEN 1 AND 10
            OR students - engineering_students BETWEEN 1 AND 10, false) AS masked
    FROM {{ ref('national_comparison') }}
)
SELECT
    academic_year, is_imt, school_code, uai, paysage_id, name, establishment_type,
    CASE WHEN masked THEN NULL ELSE students END AS students,
    CASE WHEN masked THEN NULL ELSE international_mobility_students END
        AS international_mobility_students,
    CASE WHEN masked THEN NULL ELSE round(international_mobility_share, 4) END
        AS international_mobility_share,
    CASE WHEN masked THEN NULL ELSE engineering_students END AS engineering_students,
    CASE WHEN masked THEN NULL ELSE round(engineering_share, 4) END AS engineering_share,
    CASE WHEN masked THEN NULL ELSE mobility_share_rank END AS mobility_share_rank,
    ranked_in_year, national_schools_in_year, counted_in_parent, is_epe_component, source,
    masked
FROM flagged
