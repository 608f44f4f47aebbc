{#- Models go to the schema their folder names (core, marts, bi), not <target>_<schema>. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name | trim if custom_schema_name else target.schema }}
{%- endmacro %}

{#- Relations are written without the database name: the published warehouse is a copy of
    the build database under another name (imt.duckdb), and its views must resolve there. -#}
{% macro ref() -%}
    {{ return(builtins.ref(*varargs, **kwargs).include(database=false)) }}
{%- endmacro %}

{% macro source() -%}
    {{ return(builtins.source(*varargs, **kwargs).include(database=false)) }}
{%- endmacro %}
