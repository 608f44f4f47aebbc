-- marts.staff_mobility: the mobility stays of teaching and research staff (core.fact_mobility
-- rows of population 'staff': Erasmus+ teaching and training stays, T.I.M.E. visits, invited
-- professorships), aggregated as marts.mobility_flows aggregates the students'
-- (macros/mobility.sql).
-- Grain: one row per school_code, academic_year, direction, scheme and partner_country.
-- avg_duration_months = total_months / stays, the exact quotient (DOUBLE, not rounded).
-- depends_on: {{ ref('fact_mobility') }}
{{ stays_by_partner('staff', 'staff') }}
