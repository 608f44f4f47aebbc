{#- The grain of a table: no two rows share the values of `combination` (a list of columns
    or SQL expressions). NULLs compare equal here (GROUP BY), so two rows that differ only
    by a NULL where the other has a NULL count as duplicates. Fails with one row per
    duplicated combination and how many rows hold it. -#}
{% test unique_combination_of_columns(model, combination) %}
    {%- set columns = combination | join(', ') %}
    SELECT {{ columns }}, count(*) AS rows_with_this_combination
    FROM {{ model }}
    GROUP BY {{ columns }}
    HAVING count(*) > 1
{% endtest %}
