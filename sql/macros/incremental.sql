{#- Incremental facts. A fact that projects one staging dataset row for row is updated, after
    a partition load, only for the school-years whose staging rows changed: the pipeline
    records them in build_state.changed_partitions (dataset, school_code, academic_year; a
    NULL year is every year of the school), the model selects only those rows and dbt's
    delete+insert strategy replaces them by (school_code, academic_year). The pre-hook first
    deletes every changed school-year, so a school-year with no rows left is emptied too: the
    table then holds exactly what a whole rebuild would. When a whole rebuild is cheaper or
    the model's SQL changed, imtetl drops the table first and dbt builds it whole. -#}

{% macro changed_partition(dataset, relation) -%}
    EXISTS (
        SELECT 1 FROM build_state.changed_partitions AS changed
        WHERE changed.dataset = '{{ dataset }}'
          AND changed.school_code = {{ relation }}.school_code
          AND (changed.academic_year IS NULL OR changed.academic_year = {{ relation }}.academic_year)
    )
{%- endmacro %}

{% macro delete_changed_partitions(dataset) -%}
    {% if is_incremental() %}
        DELETE FROM {{ this }} WHERE {{ changed_partition(dataset, this.identifier) }}
    {% endif %}
{%- endmacro %}
