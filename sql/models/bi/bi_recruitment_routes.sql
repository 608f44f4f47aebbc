-- bi.recruitment_routes: marts.recruitment_routes with small counts masked.
{{ config(alias='recruitment_routes') }}

SELECT
    school_code, academic_year, admission_route, study_mode,
    CASE WHEN new_entrants BETWEEN 1 AND 10 THEN NULL ELSE new_entrants END AS new_entrants,
    CASE WHEN new_entrants BETWEEN 1 AND 10 THEN NULL ELSE round(share_of_new_entrants, 4) END
        AS share_of_new_entrants,
    coalesce(new_entrants BETWEEN 1 AND 10, false) AS masked
FROM {{ ref('recruitment_routes') }}
