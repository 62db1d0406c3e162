"""Config validation per integration type: every problem is named with its path."""

from __future__ import annotations

import pytest

from bonito_logs.config import Settings
from bonito_logs.connectors import (
    CloudWatchConnector,
    DatadogConnector,
    SplunkConnector,
    WebhookConnector,
    connector_class,
    create_connector,
    validate,
)
from bonito_logs.errors import ValidationError

STRICT = Settings()
LOOSE = Settings(allow_private_destinations=True)
DD_KEY = "0123456789abcdef0123456789abcdef"
HEC = "11111111-2222-4333-8444-555555555555"
ORG = "2f1b0c2e-8a8d-4c1e-9a53-0d7f1e4c2b11"


def fields(exc: ValidationError) -> set[str]:
    return {p["field"] for p in exc.problems}


def problems_of(cls, config, credentials, settings=STRICT) -> dict[str, str]:
    with pytest.raises(ValidationError) as info:
        cls.validate(config, credentials, settings=settings)
    return {p["field"]: p["rule"] for p in info.value.problems}


# --- Datadog -------------------------------------------------------------------------------


def test_datadog_valid():
    DatadogConnector.validate({"site": "datadoghq.eu", "service": "gateway", "tags": ["env:prod"],
                               "source": "bonito"}, {"api_key": DD_KEY}, settings=STRICT)


@pytest.mark.parametrize("site", ["datadoghq.com", "datadoghq.eu", "us3.datadoghq.com",
                                  "us5.datadoghq.com", "ap1.datadoghq.com", "ap2.datadoghq.com",
                                  "ddog-gov.com"])
def test_datadog_sites(site):
    DatadogConnector.validate({"site": site, "service": "s"}, {"api_key": DD_KEY}, settings=STRICT)


def test_datadog_names_every_problem():
    found = problems_of(DatadogConnector,
                        {"site": "datadog.example", "tags": ["ok:1", "bad,tag", 7], "colour": "red",
                         "endpoint_url": "http://127.0.0.1:9"},
                        {"api_key": "not-hex", "app_key": "x"})
    assert set(found) == {"config.site", "config.service", "config.tags[1]", "config.tags[2]",
                          "config.colour", "config.endpoint_url", "credentials.api_key",
                          "credentials.app_key"}
    assert "datadoghq.com" in found["config.site"]
    assert "private destinations" in found["config.endpoint_url"]


def test_datadog_missing_key_and_bad_tags_type():
    found = problems_of(DatadogConnector, {"site": "datadoghq.com", "service": "s", "tags": "a,b"}, {})
    assert found == {"config.tags": "must be a list of strings like key:value",
                     "credentials.api_key": "is required"}


def test_datadog_endpoint_override_only_when_private_allowed():
    config = {"site": "datadoghq.com", "service": "s", "endpoint_url": "http://127.0.0.1:9"}
    DatadogConnector.validate(config, {"api_key": DD_KEY}, settings=LOOSE)
    found = problems_of(DatadogConnector, {**config, "endpoint_url": "ftp://x"}, {"api_key": DD_KEY}, LOOSE)
    assert found == {"config.endpoint_url": "must be an http(s) URL"}


def test_datadog_urls():
    c = DatadogConnector({"site": "us5.datadoghq.com", "service": "s"}, {"api_key": DD_KEY},
                         org_id=ORG, settings=STRICT)
    assert c.intake_url == "https://http-intake.logs.us5.datadoghq.com/api/v2/logs"
    assert c.validate_url == "https://api.us5.datadoghq.com/api/v1/validate"
    assert DD_KEY not in repr(c)


# --- Splunk -------------------------------------------------------------------------------


def test_splunk_valid_and_default_port():
    SplunkConnector.validate({"host": "https://93.184.216.34", "index": "main", "sourcetype": "_json",
                              "source": "bonito", "verify_tls": True, "use_ack": True},
                             {"hec_token": HEC}, settings=STRICT)
    c = SplunkConnector({"host": "93.184.216.34"}, {"hec_token": HEC}, org_id=ORG, settings=STRICT)
    assert c.config["base_url"] == "https://93.184.216.34:8088"
    c = SplunkConnector({"host": "http://[2001:db8::1]:9000/hec/"}, {"hec_token": HEC}, org_id=ORG,
                        settings=STRICT)
    assert c.config["base_url"] == "http://[2001:db8::1]:9000/hec"


def test_splunk_names_every_problem(tmp_path):
    found = problems_of(SplunkConnector,
                        {"host": "ftp://x", "index": "_Internal", "verify_tls": "yes", "use_ack": 1,
                         "ca_bundle": str(tmp_path / "missing.pem"), "ack_timeout_s": 0},
                        {"hec_token": "abc"})
    assert set(found) == {"config.host", "config.index", "config.verify_tls", "config.use_ack",
                          "config.ca_bundle", "config.ack_timeout_s", "credentials.hec_token"}


def test_splunk_ca_bundle_conflicts_with_verify_off(tmp_path):
    pem = tmp_path / "ca.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\n")
    found = problems_of(SplunkConnector, {"host": "https://93.184.216.34", "verify_tls": False,
                                          "ca_bundle": str(pem)}, {"hec_token": HEC})
    assert found == {"config.ca_bundle": "cannot be combined with verify_tls: false"}


def test_splunk_host_goes_through_the_ssrf_guard():
    found = problems_of(SplunkConnector, {"host": "https://127.0.0.1:8088"}, {"hec_token": HEC})
    assert "loopback" in found["config.host"]
    SplunkConnector.validate({"host": "https://127.0.0.1:8088"}, {"hec_token": HEC}, settings=LOOSE)


# --- CloudWatch ---------------------------------------------------------------------------


CW_CREDS = {"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key": "x" * 40}


def test_cloudwatch_valid():
    CloudWatchConnector.validate({"region": "eu-west-3", "log_group": "/bonito/prod",
                                  "log_stream": "{org_id}-{log_type}"},
                                 {**CW_CREDS, "session_token": "tok"}, settings=STRICT)


def test_cloudwatch_names_every_problem():
    found = problems_of(CloudWatchConnector,
                        {"region": "Mars", "log_group": "bad group!", "log_stream": "{tenant}",
                         "endpoint_url": "localhost"},
                        {"aws_access_key_id": "lower", "session_token": 5})
    assert set(found) == {"config.region", "config.log_group", "config.log_stream",
                          "config.endpoint_url", "credentials.aws_access_key_id",
                          "credentials.aws_secret_access_key", "credentials.session_token"}
    assert "{org_id}" in found["config.log_stream"]


@pytest.mark.parametrize(("stream", "rule"), [
    ("a:b", "must not contain : or *"), ("a*", "must not contain : or *"),
    ("{org_id", "has an unbalanced { or }"), ("{0}", "may use only the placeholders"),
])
def test_cloudwatch_stream_templates(stream, rule):
    found = problems_of(CloudWatchConnector, {"region": "us-east-1", "log_group": "g",
                                              "log_stream": stream}, CW_CREDS)
    assert rule in found["config.log_stream"]


def test_cloudwatch_endpoint_goes_through_the_ssrf_guard():
    config = {"region": "us-east-1", "log_group": "g", "log_stream": "s",
              "endpoint_url": "http://169.254.169.254"}
    assert "metadata" in problems_of(CloudWatchConnector, config, CW_CREDS)["config.endpoint_url"]
    CloudWatchConnector.validate(config, CW_CREDS, settings=LOOSE)


# --- webhook ------------------------------------------------------------------------------


def test_webhook_valid():
    WebhookConnector.validate({"url": "https://93.184.216.34/hook", "headers": {"X-Team": "core"},
                               "gzip": True}, {"secret": "s" * 16}, settings=STRICT)


@pytest.mark.parametrize("name", ["Host", "content-length", "X-Bonito-Signature",
                                  "x-bonito-timestamp", "Content-Type", "Transfer-Encoding"])
def test_webhook_reserved_headers_cannot_be_overridden(name):
    found = problems_of(WebhookConnector, {"url": "https://93.184.216.34/", "headers": {name: "v"}},
                        {"secret": "s" * 16})
    assert found == {f"config.headers.{name}": "is set by Bonito Logs and cannot be overridden"}


def test_webhook_names_every_problem():
    found = problems_of(WebhookConnector,
                        {"url": "https://user:pw@93.184.216.34/", "gzip": "no",
                         "headers": {"Bad Name": "v", "X-Ok": "line\r\nbreak", "X-Num": 3}},
                        {"secret": "short"})
    assert set(found) == {"config.url", "config.gzip", "config.headers.Bad Name",
                          "config.headers.X-Ok", "config.headers.X-Num", "credentials.secret"}


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest", "http://localhost:9/",
                                 "http://[::ffff:127.0.0.1]/", "http://0x7f000001/"])
def test_webhook_url_goes_through_the_ssrf_guard(url):
    found = problems_of(WebhookConnector, {"url": url}, {"secret": "s" * 16})
    assert set(found) == {"config.url"}


def test_webhook_missing_url_and_secret():
    assert problems_of(WebhookConnector, {}, {}) == {"config.url": "is required",
                                                     "credentials.secret": "is required"}


# --- registry -----------------------------------------------------------------------------


def test_registry_and_unknown_type():
    assert connector_class("splunk") is SplunkConnector
    with pytest.raises(ValidationError) as info:
        validate("syslog", {}, {})
    assert info.value.field == "type"


def test_config_and_credentials_must_be_objects():
    with pytest.raises(ValidationError) as info:
        DatadogConnector.validate([], "x", settings=STRICT)
    assert fields(info.value) == {"config", "credentials"}


def test_constructor_validates_without_network():
    with pytest.raises(ValidationError):
        create_connector("webhook", {"url": "nope"}, {"secret": "s" * 16}, org_id=ORG, settings=STRICT)
    # an unresolvable host is not checked at construction: that happens at send time
    create_connector("webhook", {"url": "https://nowhere.invalid/"}, {"secret": "s" * 16},
                     org_id=ORG, settings=STRICT)
