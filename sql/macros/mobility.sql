{#- The mobility stays of one population (core.fact_mobility), aggregated by school, year,
    direction, scheme and partner country: stays, distinct people (as `people`), total months
    and their exact average (DOUBLE, not rounded). marts.mobility_flows (students) and
    marts.staff_mobility (staff) are this one aggregation of two populations. -#}
{% macro stays_by_partner(population, people) %}
WITH stays AS (
    SELECT
        school_code,
        academic_year,
        direction,
        scheme,
        partner_country,
        count(*) AS stays,
        count(DISTINCT student_key) AS people,
        sum(duration_months) AS total_months
    FROM {{ ref('fact_mobility') }}
    WHERE population = '{{ population }}'
    GROUP BY school_code, academic_year, direction, scheme, partner_country
)
SELECT
    school_code,
    academic_year,
    direction,
    scheme,
    partner_country,
    CAST(stays AS BIGINT) AS stays,
    CAST(people AS BIGINT) AS {{ people }},
    CAST(total_months AS DECIMAL(12, 1)) AS total_months,
    CAST(total_months AS DOUBLE) / stays AS avg_duration_months
FROM stays
ORDER BY school_code, academic_year, direction, scheme, partner_country
{% endmacro %}
