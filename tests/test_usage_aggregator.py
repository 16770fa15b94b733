"""The usageAggregator configuration form: the Helm values it exports, read back by YAML and
pyhocon (the metering service's reader), give exactly what was entered, hostile text included."""

import json
from decimal import Decimal

import pytest
import yaml
from pyhocon import ConfigFactory

pytestmark = pytest.mark.django_db

HOSTILE = [
    'US"D',
    "a\\b",
    "${HOME}",
    "$$ $(VAR)",
    "# not a comment",
    "// nor this",
    "true",
    "10",
    "multi\nline",
    "tab\there",
    "   spaced   ",
    "é €  ✓",
    "include",
    "{x: 1}",
]


def post(client, currency: str, rows: list[dict], **extra):
    data = {"currency": currency, "row_count": str(len(rows)), **extra}
    for i, row in enumerate(rows):
        for key, value in row.items():
            data[f"rows-{i}-{key}"] = value
    return client.post("/usage/aggregator/", data)


def read_back(helm_text: str):
    values = yaml.safe_load(helm_text)["usageAggregator"]
    assert values["enabled"] is True
    return ConfigFactory.parse_string(values["configuration"])


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_currencies_read_back_exactly(admin_client, text):
    rows = [
        {"category": "users", "count_strategy": "max", "type": "users", "label": "admins",
         "price": "0.2", "units": "1", "currency": text},
    ]  # fmt: skip
    response = admin_client.post(
        "/usage/aggregator/",
        {"currency": text, "row_count": "1", "download": "1"}
        | {f"rows-0-{k}": v for k, v in rows[0].items()},
    )
    assert response.status_code == 200
    assert response["Content-Disposition"].endswith('"usage-aggregator.values.yaml"')
    config = read_back(response.content.decode())
    assert config["pricing"]["currency"] == text.strip()
    assert config["events"]["users"]["labels"]["admins"]["pricing"]["currency"] == text.strip()


def test_the_docs_example_and_more_read_back_exactly(admin_client):
    rows = [
        {"category": "users", "count_strategy": "max", "type": "users", "label": "admins",
         "price": "0.2", "units": "1"},
        {"category": "users", "count_strategy": "max", "type": "users", "label": "users",
         "price": "0.1", "units": "1"},
        {"count_strategy": "sum", "type": ""},  # a blank row: its selects still send values
        {"category": "compute", "count_strategy": "sum", "type": "compute", "label": "gpu-a100",
         "price": "2.5", "units": "3600"},
        {"category": "compute", "count_strategy": "sum", "type": "compute", "label": "free_cpu"},
        {"category": "tokens", "count_strategy": "sum", "label": "gpt", "price": "0.000002",
         "units": "1000"},
    ]  # fmt: skip
    response = post(admin_client, "EUR", rows)
    assert response.status_code == 200
    config = read_back(response.context["helm"])
    plain = json.loads(json.dumps(config.as_plain_ordered_dict()))
    assert plain == {
        "pricing": {"currency": "EUR"},
        "events": {
            "users": {
                "count_strategy": "max",
                "type": "users",
                "labels": {
                    "admins": {"pricing": {"price": 0.2, "units": 1}},
                    "users": {"pricing": {"price": 0.1, "units": 1}},
                },
            },
            "compute": {
                "count_strategy": "sum",
                "type": "compute",
                "labels": {
                    "gpu-a100": {"pricing": {"price": 2.5, "units": 3600}},
                    "free_cpu": {},
                },
            },
            "tokens": {
                "count_strategy": "sum",
                "labels": {
                    "gpt": {"pricing": {"price": float(Decimal("0.000002")), "units": 1000}}
                },
            },
        },
    }
    assert ConfigFactory.parse_string(response.context["hocon"]) == config


@pytest.mark.parametrize(
    ("row", "path", "start"),
    [
        ({"category": "my users", "label": "a"}, "rows[0].category", "Category 'my users'"),
        ({"category": "users", "label": 'a"b'}, "rows[0].label", "Label 'a\"b'"),
        ({"category": "users", "label": "include"}, "rows[0].label", "Label 'include'"),
        ({"category": "users", "label": "a", "price": "-1", "units": "1"}, "rows[0].price",
         "Price '-1'"),
        ({"category": "users", "label": "a", "price": "1", "units": "0"}, "rows[0].units",
         "Units '0'"),
        ({"category": "users", "label": "a", "price": "NaN", "units": "1"}, "rows[0].price",
         "Price 'NaN'"),
        ({"category": "users", "label": "a", "price": "1"}, "rows[0].price", "Give both"),
        ({"category": "users", "label": "a", "count_strategy": "avg"}, "rows[0].count_strategy",
         "Count strategy 'avg'"),
    ],
)  # fmt: skip
def test_bad_rows_are_refused_naming_the_field_and_value(admin_client, row, path, start):
    response = post(admin_client, "USD", [row])
    assert response.status_code == 400
    assert response.context["errors"][path].startswith(start)
    assert response.context["helm"] == ""
