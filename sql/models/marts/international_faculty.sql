-- marts.international_faculty: the international profile of the teaching and research staff.
-- Grain: one row per school_code, academic_year and category (core.fact_faculty).
-- Counts are of distinct people (staff_key) within the category: a member of staff with
-- appointments in two departments counts once, one with appointments in two categories
-- counts in each category (so the headcounts of a school's categories may add up to more
-- than its staff; bi.international_faculty counts each person once). fte sums the
-- appointments. foreign_share = foreign_headcount / headcount, the exact quotient (DOUBLE,
-- not rounded: bi.international_faculty rounds it for presentation).
WITH by_category AS (
    SELECT
        school_code,
        academic_year,
        category,
        count(DISTINCT staff_key) AS headcount,
        sum(fte) AS fte,
        count(DISTINCT staff_key) FILTER (WHERE nationality <> 'FR') AS foreign_headcount,
        count(DISTINCT staff_key) FILTER (WHERE is_new_hire) AS new_hires,
        count(DISTINCT staff_key) FILTER (WHERE is_new_hire AND nationality <> 'FR')
            AS foreign_new_hires,
        count(DISTINCT staff_key) FILTER (
            WHERE country_of_previous_position IS NOT NULL
            AND country_of_previous_position <> 'FR'
        ) AS recruited_from_abroad
    FROM {{ ref('fact_faculty') }}
    GROUP BY school_code, academic_year, category
)
SELECT
    school_code,
    academic_year,
    category,
    CAST(headcount AS BIGINT) AS headcount,
    CAST(fte AS DECIMAL(12, 3)) AS fte,
    CAST(foreign_headcount AS BIGINT) AS foreign_headcount,
    CAST(foreign_headcount AS DOUBLE) / headcount AS foreign_share,
    CAST(new_hires AS BIGINT) AS new_hires,
    CAST(foreign_new_hires AS BIGINT) AS foreign_new_hires,
    CAST(recruited_from_abroad AS BIGINT) AS recruited_from_abroad
FROM by_category
ORDER BY school_code, academic_year, category
