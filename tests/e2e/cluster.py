"""A RabbitMQ cluster of the test's own: PrivateBroker nodes (own names, ports and
directories; the Erlang cookie of the rabbitmq user, which they all share) joined to
the first one. `shutdown()` stops every node."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.e2e.broker import PrivateBroker


class PrivateCluster:
    def __init__(self, nodes: list[PrivateBroker]) -> None:
        self.nodes = nodes

    @classmethod
    def start(cls, size: int = 3) -> PrivateCluster:
        with ThreadPoolExecutor(size) as pool:  # each node takes seconds to boot
            futures = [pool.submit(PrivateBroker.start) for _ in range(size)]
        nodes = []
        try:
            for future in futures:
                nodes.append(future.result())
            first = nodes[0]
            for node in nodes[1:]:
                node.ctl("stop_app")
                node.ctl("reset")
                node.ctl("join_cluster", first.node)
                node.ctl("start_app")
                node.await_startup()
        except BaseException:
            for node in nodes:
                node.shutdown()
            raise
        return cls(nodes)

    def urls(self, first: int = 0) -> str:
        """Every node's AMQP URL, starting with node `first`, as ctsd takes them."""
        order = self.nodes[first:] + self.nodes[:first]
        return " ".join(node.url for node in order)

    def shutdown(self) -> None:
        for node in self.nodes:
            node.shutdown()
