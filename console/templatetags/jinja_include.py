"""`{% jinja "name.jinja" key=value ... %}`: a Jinja2 list of templates/jinja2/ inside a Django
template, given only the values named (as `{% include ... with ... only %}`); console/jinja2.py
says why the long lists are Jinja2."""

from django import template

from console.htmx import render_rows

register = template.Library()


@register.simple_tag(takes_context=True)
def jinja(context, template_name: str, **values):
    return render_rows(context.get("request"), template_name, values)
