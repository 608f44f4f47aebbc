{#- On the fee grid (core.fact_tuition_fee): every programme with enrolled students in
    `enrolment` has a fee for that academic year and for each fee category of its students;
    otherwise marts.international_masters_pricing.expected_fee_revenue_eur undercounts.
    Fails with one row per enrolled programme, year and fee category without a fee, and the
    number of students concerned. -#}
{% test enrolled_programmes_have_fees(model, enrolment) %}
    SELECT
        e.school_code,
        e.programme_id,
        e.academic_year,
        e.fee_category,
        count(*) AS students_without_fee
    FROM {{ enrolment }} AS e
    WHERE NOT EXISTS (
        SELECT 1 FROM {{ model }} AS f
        WHERE f.programme_id = e.programme_id
          AND f.academic_year = e.academic_year
          AND f.fee_category = e.fee_category
    )
    GROUP BY e.school_code, e.programme_id, e.academic_year, e.fee_category
{% endtest %}
