"""Realistic demo traffic for one organisation: what ``make run`` shows in the browser.

Traces go gateway → agent → knowledge base the way a real agent run does; users log
in (some fail), admins change roles, deployments roll out, billing adds up. The
generator is deterministic for a seed so screenshots and docs stay reproducible.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

MODELS = [("gpt-4o", "openai", 2.5e-6, 1.0e-5), ("gpt-4o-mini", "openai", 1.5e-7, 6e-7),
          ("claude-sonnet-4", "anthropic", 3e-6, 1.5e-5), ("llama-3.1-70b", "groq", 5.9e-7, 7.9e-7),
          ("mistral-large", "mistral", 2e-6, 6e-6)]
FAILURES = [(429, "rate limited by provider"), (500, "upstream error"), (504, "upstream timeout"),
            (400, "context length exceeded")]
AGENTS = ["support-triage", "sql-analyst", "contract-reviewer", "onboarding-guide"]
KBS = ["product-docs", "hr-policies", "sales-playbook"]
TOOLS = ["web_search", "sql_query", "send_email", "create_ticket"]


def demo_calls(org_id: str, *, count: int = 3000, seed: int = 2024,
               now: datetime | None = None, span: timedelta = timedelta(days=2)) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(method name, keyword arguments)`` for ``LogService`` calls, about ``count`` of them."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    users = [f"user-{i:02d}@demo.example" for i in range(12)]
    admins = users[:2]
    produced = 0
    while produced < count:
        at = now - timedelta(seconds=rng.uniform(0, span.total_seconds()))
        kind = rng.random()
        if kind < 0.45:
            calls = _agent_run(rng, org_id, rng.choice(users), at)
        elif kind < 0.75:
            calls = [_gateway(rng, org_id, rng.choice(users), at, trace_id=str(uuid.UUID(int=rng.getrandbits(128))))]
        elif kind < 0.87:
            calls = _login(rng, org_id, rng.choice(users), at)
        elif kind < 0.92:
            calls = [_admin(rng, org_id, rng.choice(admins), rng.choice(users), at)]
        elif kind < 0.96:
            calls = [_deployment(rng, org_id, rng.choice(admins), at)]
        else:
            calls = [_billing(rng, org_id, at)]
        yield from calls
        produced += len(calls)


def _gateway(rng: random.Random, org: str, user: str, at: datetime, trace_id: str) -> tuple[str, dict]:
    model, provider, price_in, price_out = rng.choice(MODELS)
    tokens_in, tokens_out = rng.randint(50, 6000), rng.randint(10, 1500)
    failed = rng.random() < 0.06
    status, reason = rng.choice(FAILURES) if failed else (200, "")
    duration = rng.lognormvariate(6.4, 0.6) if not failed or status != 504 else 30000.0
    cost = 0.0 if failed else tokens_in * price_in + tokens_out * price_out
    return "emit_gateway_request", dict(
        org_id=org, user_id=user, model=model, provider=provider, status=status,
        duration_ms=round(duration, 3), cost=round(cost, 8), input_tokens=tokens_in,
        output_tokens=0 if failed else tokens_out, trace_id=trace_id, timestamp=at,
        metadata={"error": reason} if failed else None)


def _agent_run(rng: random.Random, org: str, user: str, at: datetime) -> list[tuple[str, dict]]:
    trace = str(uuid.UUID(int=rng.getrandbits(128)))
    agent = rng.choice(AGENTS)
    t = at
    calls = [("emit_agent_event", dict(org_id=org, event_type="execute", user_id=user, agent_id=agent,
                                       trace_id=trace, timestamp=t,
                                       metadata={"input_chars": rng.randint(20, 2000)}))]
    total_cost = 0.0
    for _ in range(rng.randint(1, 4)):
        t += timedelta(milliseconds=rng.uniform(20, 300))
        kb = rng.choice(KBS)
        took = rng.lognormvariate(4.5, 0.5)
        calls.append(("emit_kb_event", dict(org_id=org, event_type="search", user_id=user, kb_id=kb,
                                            duration_ms=round(took, 3), trace_id=trace, timestamp=t,
                                            metadata={"query": rng.choice(["refund policy", "pricing tiers",
                                                                           "vacation days", "sso setup"]),
                                                      "hits": rng.randint(0, 12)})))
        t += timedelta(milliseconds=took)
        name, kwargs = _gateway(rng, org, user, t, trace)
        total_cost += kwargs["cost"]
        calls.append((name, kwargs))
        t += timedelta(milliseconds=kwargs["duration_ms"])
        if rng.random() < 0.4:
            calls.append(("emit_agent_event", dict(org_id=org, event_type="tool_use", user_id=user,
                                                   agent_id=agent, trace_id=trace, timestamp=t,
                                                   metadata={"tool": rng.choice(TOOLS)})))
    failed = rng.random() < 0.05
    calls.append(("emit_agent_event", dict(
        org_id=org, event_type="error" if failed else "status_change", user_id=user, agent_id=agent,
        trace_id=trace, timestamp=t, duration_ms=round((t - at).total_seconds() * 1000, 3),
        cost=round(total_cost, 8), metadata={"status": "failed" if failed else "completed"},
        message=f"agent {agent} {'failed: tool timeout' if failed else 'completed'}")))
    return calls


def _login(rng: random.Random, org: str, user: str, at: datetime) -> list[tuple[str, dict]]:
    calls = []
    if rng.random() < 0.15:
        calls.append(("emit_auth_event", dict(org_id=org, event_type="failed_auth", user_id=user, success=False,
                                              timestamp=at - timedelta(seconds=20),
                                              metadata={"reason": "bad password", "ip": f"203.0.113.{rng.randint(1, 254)}"})))
    event = rng.choice(["login", "login", "sso_auth", "token_refresh"])
    calls.append(("emit_auth_event", dict(org_id=org, event_type=event, user_id=user, success=True, timestamp=at,
                                          metadata={"method": "sso" if event == "sso_auth" else "password"})))
    return calls


def _admin(rng: random.Random, org: str, admin: str, target: str, at: datetime) -> tuple[str, dict]:
    event = rng.choice(["user_invite", "role_change", "config_change", "policy_update"])
    meta = {"role_change": {"from": "viewer", "to": "member"}, "user_invite": {"role": "member"},
            "config_change": {"setting": "default_model", "value": "gpt-4o-mini"},
            "policy_update": {"policy": "pii_redaction", "enabled": True}}[event]
    return "emit_admin_action", dict(org_id=org, admin_user_id=admin, event_type=event,
                                     target_user_id=target, metadata=meta, timestamp=at)


def _deployment(rng: random.Random, org: str, admin: str, at: datetime) -> tuple[str, dict]:
    failed = rng.random() < 0.2
    return "emit", dict(org_id=org, log_type="deployment", event_type="status_change",
                        severity="error" if failed else "info", user_id=admin, timestamp=at,
                        resource_type="deployment", resource_id=f"deploy-{rng.randint(100, 999)}",
                        action="update", duration_ms=round(rng.uniform(5000, 90000), 3),
                        metadata={"from": "pending", "to": "failed" if failed else "running",
                                  "replicas": rng.randint(1, 4)},
                        message="deployment failed health check" if failed else "deployment is running")


def _billing(rng: random.Random, org: str, at: datetime) -> tuple[str, dict]:
    event = rng.choice(["usage_calculation", "invoice_generation", "cost_alert"])
    return "emit", dict(org_id=org, log_type="billing", event_type=event,
                        severity="warn" if event == "cost_alert" else "info", timestamp=at,
                        cost=round(rng.uniform(1, 400), 2), action="create",
                        metadata={"period": at.strftime("%Y-%m"), "threshold_usd": 250}
                        if event == "cost_alert" else {"period": at.strftime("%Y-%m")},
                        message={"cost_alert": "monthly spend passed 80% of budget",
                                 "usage_calculation": "usage calculated",
                                 "invoice_generation": "invoice generated"}[event])
