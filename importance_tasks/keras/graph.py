"""Building models on a Keras model's intermediate tensors without changing the model."""

from __future__ import annotations

from typing import Any

__all__ = ["graph_unchanged"]


class graph_unchanged:
    """Building a model on a model's intermediate tensors adds nodes to its layers and moves
    its input tensors' history to them, after which Keras fails to save the original model.
    Put the layers' node lists and the tensors' histories back afterwards."""

    def __init__(self, keras_model: Any) -> None:
        graph = getattr(keras_model, "_functional", None) or keras_model  # a Sequential's graph
        self.operations = list(graph.operations)

    def __enter__(self) -> None:
        self.nodes = [
            (op, list(op._inbound_nodes), list(op._outbound_nodes)) for op in self.operations
        ]
        self.histories = [
            (tensor, tensor._keras_history)
            for op in self.operations
            for node in op._inbound_nodes
            for tensor in node.output_tensors
        ]

    def __exit__(self, *exc: object) -> None:
        for op, inbound, outbound in self.nodes:
            op._inbound_nodes[:] = inbound
            op._outbound_nodes[:] = outbound
        for tensor, history in self.histories:
            tensor._keras_history = history
