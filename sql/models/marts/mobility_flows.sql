-- marts.mobility_flows: students' mobility stays aggregated (population 'student' only:
-- staff stays are marts.staff_mobility; both are macros/mobility.sql).
-- Grain: one row per school_code, academic_year, direction, scheme and partner_country.
-- avg_duration_months = total_months / stays, the exact quotient (DOUBLE, not rounded: the
-- marts hold exact values; bi.mobility_flows rounds it half away from zero to 1 decimal).
-- depends_on: {{ ref('fact_mobility') }}
{{ stays_by_partner('student', 'students') }}
