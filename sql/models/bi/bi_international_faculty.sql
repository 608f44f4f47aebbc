-- bi.international_faculty: the teaching and research staff by school and year, all
-- categories together, from core.fact_faculty: a member of staff with appointments in two
-- categories or departments counts once here (marts.international_faculty counts them in
-- each category). Aggregated BEFORE masking, since the categories are small; then a row with
-- a count of 1 to 10 people, or one implied by a difference (French staff: headcount -
-- foreign_headcount; staff recruited in France or unknown: headcount - recruited_from_abroad),
-- is masked whole. fte is masked with the counts (it bounds the headcount).
{{ config(alias='international_faculty') }}

WITH schools AS (
    SELECT
        school_code,
        academic_year,
        count(DISTINCT staff_key) AS headcount,
        sum(fte) AS fte,
        count(DISTINCT staff_key) FILTER (WHERE nationality <> 'FR') AS foreign_headcount,
        count(DISTINCT staff_key) FILTER (
            WHERE country_of_previous_position IS NOT NULL
            AND country_of_previous_position <> 'FR'
        ) AS recruited_from_abroad
    FROM {{ ref('fact_faculty') }}
    GROUP BY school_code, academic_year
), flagged AS (
    SELECT *,
        coalesce(headcount BETWEEN 1 AND 10
                 OR foreign_headcount BETWEEN 1 AND 10
                 OR recruited_from_abroad BETWEEN 1 AND 10
                 OR headcount - foreign_headcount BETWEEN 1 AND 10
                 OR headcount - recruited_from_abroad BETWEEN 1 AND 10, false) AS masked
    FROM schools
)
SELECT
    school_code, academic_year,
    CASE WHEN masked THEN NULL ELSE headcount END::BIGINT AS headcount,
    CASE WHEN masked THEN NULL ELSE fte END::DECIMAL(12, 3) AS fte,
    CASE WHEN masked THEN NULL ELSE foreign_headcount END::BIGINT AS foreign_headcount,
    -- foreign_headcount / headcount rounded half away from zero to 4 decimals, exactly
    CASE WHEN masked THEN NULL ELSE
        {{ round_half_away('foreign_headcount', 'headcount', 4, 5) }}
    END AS foreign_share,
    CASE WHEN masked THEN NULL ELSE recruited_from_abroad END::BIGINT AS recruited_from_abroad,
    masked
FROM flagged
