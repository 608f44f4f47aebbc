{#- Presentation rounding, for the bi views (the marts hold exact values). -#}

{#- numerator / denominator rounded half away from zero to `scale` decimals, in exact
    integer arithmetic (no floating point): both arguments are integers, the denominator
    positive. round(n / d, s) = sign(n) * floor((2 * |n| * 10^s + d) / (2 * d)) / 10^s.
    Returns DECIMAL(precision, scale). -#}
{% macro round_half_away(numerator, denominator, scale, precision=18) -%}
    CAST(
        CAST(
            sign({{ numerator }})
            * ((2 * abs({{ numerator }}) * {{ 10 ** scale }} + ({{ denominator }}))
               // (2 * ({{ denominator }})))
            AS DECIMAL(18, 0)
        ) / {{ 10 ** scale }}
        AS DECIMAL({{ precision }}, {{ scale }})
    )
{%- endmacro %}
