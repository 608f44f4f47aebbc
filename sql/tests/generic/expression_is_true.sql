{#- A row-level rule: every row of the model satisfies `expression` (a SQL boolean). On a
    column (column_name set), the expression is written after the column, e.g.
    `expression: ">= start_date"` on end_date. A NULL result fails, unless `where` (dbt's
    config) excludes the row. Fails with every row that breaks the rule. -#}
{% test expression_is_true(model, expression, column_name=None) %}
    SELECT *
    FROM {{ model }}
    WHERE NOT coalesce(
        ({% if column_name %}{{ column_name }} {% endif %}{{ expression }}), false
    )
{% endtest %}
