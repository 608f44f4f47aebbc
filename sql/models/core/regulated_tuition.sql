-- core.regulated_tuition: the tuition fees set by decree (arrêtés) for IMT schools, with the
-- legal text and public source of every amount (reference/regulated_tuition.csv).
-- Grain: one row per school, programme level, range of academic years and fee category.
SELECT
    school_code,
    programme_level,
    first_academic_year,
    last_academic_year,
    fee_category,
    annual_fee_eur,
    also_allowed_eur,
    legal_reference,
    source_url,
    source_type
FROM {{ source('reference', 'regulated_tuition') }}
ORDER BY school_code, programme_level, first_academic_year, fee_category
