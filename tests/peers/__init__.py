"""Faithful local stand-ins for the destinations: Datadog, Splunk HEC, CloudWatch (moto), webhooks.

Import the fixtures explicitly in a test module::

    from tests.peers.fixtures import datadog_peer  # noqa: F401
"""
