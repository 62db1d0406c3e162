"""Forwarding: every integration's records to its destination, each integration isolated.

``ForwardingSupervisor`` (a worker component) runs one ``Forwarder`` per enabled
integration; a forwarder consumes in its own group, delivers through its connector
(``Delivery``: breaker, retries, dead letters) and commits only what was delivered.
"""

from bonito_logs.streams.forwarding.delivery import Delivery, Destination, Item
from bonito_logs.streams.forwarding.forwarder import Forwarder
from bonito_logs.streams.forwarding.state import ForwarderState
from bonito_logs.streams.forwarding.supervisor import ForwardingSupervisor

__all__ = ["Delivery", "Destination", "Forwarder", "ForwarderState", "ForwardingSupervisor", "Item"]
