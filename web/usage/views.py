"""Usage and cost: the report page (stored data only), Fetch (a request of its own that waits
for the metering service), the CSV/JSON downloads and the usageAggregator configuration form."""

import json

from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from changes.usage import usage_fetch
from console.htmx import render_page
from console.metering.report import report_csv, report_json
from console.redirects import header_url

from .aggregator_form import aggregator_context
from .context import requested_range, usage_context


@never_cache
@require_GET
def usage_report(request):
    context = usage_context(request.GET)
    return render_page(
        request, "usage/report.html", context, status=400 if context["errors"] else 200
    )


@never_cache
@require_POST
def usage_fetch_view(request):
    chosen, data, errors = requested_range(request.POST)
    url = reverse("usage:report") + f"?from={data['from']}&to={data['to']}"
    if chosen is None:
        messages.error(request, " ".join(errors.values()))
    else:
        result = usage_fetch(from_date=chosen[0], to_date=chosen[1])
        if result.ok:
            messages.success(request, f"Read usage for {result.tenants} tenant(s).")
        else:
            messages.error(
                request, f"Could not read usage: {result.error}. Shown: what was read before."
            )
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = header_url(url)
        return response
    return HttpResponseRedirect(url)


@never_cache
@require_GET
def usage_download(request, fmt: str):
    if fmt not in ("csv", "json"):
        raise Http404("Download as usage/download.csv or usage/download.json.")
    context = usage_context(request.GET)
    if context["view"] is None:
        errors = " ".join(context["errors"].values())
        text = errors or "No usage is stored for this range yet: press Fetch on the usage page."
        status = 400 if errors else 404
        return HttpResponse(text + "\n", status=status, content_type="text/plain; charset=utf-8")
    report = context["report"]
    name = f"usage-{report.from_date}-{report.to_date}.{fmt}"
    if fmt == "json":
        body, kind = json.dumps(report_json(report), indent=2), "application/json"
    else:
        body, kind = report_csv(report), "text/csv; charset=utf-8"
    response = HttpResponse(body, content_type=kind)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@never_cache
@require_http_methods(["GET", "POST"])
def usage_aggregator(request):
    context = aggregator_context(request.POST if request.method == "POST" else None)
    if request.method == "POST" and request.POST.get("download") and context["helm"]:
        response = HttpResponse(context["helm"], content_type="application/yaml; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="usage-aggregator.values.yaml"'
        return response
    return render(
        request, "usage/aggregator.html", context, status=400 if context["errors"] else 200
    )
