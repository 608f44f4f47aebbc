{#- Column comments (persist_docs). DuckLake (the target `lake`, imtetl's DuckLake backend)
    keeps no comments on the columns of views: there the bi views' column descriptions stay in
    the dbt docs and the data dictionary (imtetl docs reads them from the manifest), and the
    views themselves keep their COMMENT ON VIEW. Otherwise dbt-duckdb's own macro. -#}
{% macro duckdb__alter_column_comment(relation, column_dict) %}
  {% if target.name == 'lake' and relation.type == 'view' %}
    {{ return('') }}
  {% endif %}
  {% set existing_columns = adapter.get_columns_in_relation(relation) | map(attribute="name") | list %}
  {% for column_name in column_dict if (column_name in existing_columns) %}
    {% set comment = column_dict[column_name]['description'] %}
    {% set escaped_comment = duckdb_escape_comment(comment) %}
    comment on column {{ relation }}.{{ adapter.quote(column_name) if column_dict[column_name]['quote'] else column_name }} is {{ escaped_comment }};
  {% endfor %}
{% endmacro %}
