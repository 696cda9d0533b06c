"""The Keras model as the methods see it (``Model``): its forward pass compiled once.

``KerasModel`` compiles the model's forward pass once on Keras' backend (a ``tf.function``, a
``jax.jit``; ``importance_tasks.keras.backends``) and feeds it large batches, instead of calling
``model.predict`` (which sets up a data pipeline on every call) once per feature and repeat.
``for_data`` binds any model to the columns of the evaluation data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from importance_tasks.errors import DataError, InputError, UnsupportedModelError
from importance_tasks.keras.cost import batch_rows_for
from importance_tasks.keras.first_layer import FirstDense, first_dense
from importance_tasks.keras.gradient_space import GradientSpace, gradient_space
from importance_tasks.keras.heads import Head, head_model, match_heads, output_names
from importance_tasks.keras.model_inputs import (
    check_column_types,
    column_order,
    input_slots,
    named_windows,
    splitter,
)
from importance_tasks.model import DEFAULT_BATCH_ROWS, Model, stack_outputs
from importance_tasks.windows import cell_names, variables_of

if TYPE_CHECKING:
    from importance_tasks.data import EvalData

__all__ = ["KerasModel", "first_dense_of", "for_data", "heads_of"]

# The first Dense layer's least share of the Dense layers' work for low-rank updates by default.
MIN_FIRST_LAYER_SHARE = 0.5


class KerasModel:
    """A Keras 3 model: one input of shape (None, n_features), or several named inputs each
    taking data columns by name (``importance_tasks.keras.model_inputs``).

    Parameters
    ----------
    model : keras.Model
    batch_rows : int, optional
        Rows per forward call; larger batches amortise per-call overhead. Default: 32768 on a
        CPU; on a GPU as many as fill an eighth of its memory with the activations
        (``importance_tasks.keras.cost.batch_rows_for``): each batch goes to the device once,
        and only its outputs come back.
    columns : sequence of str, optional
        The data's feature columns, in the order the rows will come in. For a model with named
        inputs they are matched to the inputs by name (default: the inputs' own order);
        ignored for a model with one matrix input, which takes its columns by position.
    categories : mapping of column name to vocabulary, optional
        The data's coded columns (``EvalData.categories``): their codes become the raw values
        inside the forward pass. Only a model with named inputs takes them.
    rank_one_updates : bool or None, default=None
        Let permutation, occlusion and SHAP compute copies that differ in a few columns from
        the cached pre-activations of a first Dense layer (``importance_tasks.keras.first_layer``),
        where the model's structure allows it: None where that layer holds at least half of
        the Dense layers' multiply-adds (``MIN_FIRST_LAYER_SHARE``), True wherever the
        structure allows, False never (always the full forward pass).
    steps : int, optional
        A sequence model's window length when its input takes any length (None, None, F):
        the ``sequence_length`` setting (``with_steps``).
    """

    def __init__(
        self,
        model: Any,
        *,
        batch_rows: int | None = None,
        columns: Sequence[str] | None = None,
        categories: Mapping[str, Any] | None = None,
        rank_one_updates: bool | None = None,
        steps: int | None = None,
    ) -> None:
        from importance_tasks.keras.backends import current

        if batch_rows is not None and batch_rows < 1:
            raise InputError(f"batch_rows must be >= 1, got {batch_rows}")
        self.keras_model = model
        # Several outputs are analysed one head at a time (``head``, ``heads_of``).
        self.output_names = output_names(model)
        self.slots = input_slots(model)
        self.categories = dict(categories or {})
        self.rank_one_updates = rank_one_updates
        shape = tuple(model.inputs[0].shape[1:]) if self.slots is None else ()
        if len(shape) == 2 and steps is not None and shape[0] not in (None, steps):
            raise InputError(
                f"sequence_length={steps}, but the model takes windows of {shape[0]} steps; "
                "leave sequence_length empty"
            )
        # A model whose input takes windows of any length, until ``with_steps`` fixes them.
        self.any_length = len(shape) == 2 and shape[0] is None and steps is None
        if len(shape) == 2:
            shape = (steps or shape[0] or 1, shape[1])
        self.steps_asked = steps
        # A sequence model's windows (steps, variables), given as rows of cells.
        self.window: tuple[int, int] | None = (
            (int(shape[0]), int(shape[1])) if len(shape) == 2 else None
        )
        self._first_dense: FirstDense | bool | None = (
            rank_one_updates is not False and self.slots is None and self.window is None
        )
        if self.slots is None:
            _refuse_codes(self.categories)
            self.feature_names: tuple[str, ...] | None = (
                None if columns is None or self.window is None else tuple(columns)
            )
            self.n_features = int(np.prod(shape))
            prepare: Any = _unchanged if self.window is None else _windows(*self.window)
        else:
            if columns is not None:  # a window input's variables, named by the data
                self.slots = named_windows(self.slots, columns)
            taken = tuple(c for slot in self.slots for c in slot.columns)
            self.feature_names = taken if columns is None else tuple(columns)
            self.n_features = len(taken)
            vocabularies = [self.categories.get(c) for c in taken]
            order = column_order(self.slots, self.feature_names)
            prepare = splitter(self.slots, order, vocabularies)
        self._prepare = prepare
        self._backend = current()
        self.batch_rows = batch_rows or batch_rows_for(
            model, self._backend.accelerator_memory(), DEFAULT_BATCH_ROWS
        )
        self._gradient: Any = None
        self._forward = self._backend.compiled(self._call, [(None, self.n_features)])

    def bind(self, data: EvalData) -> KerasModel:
        """This model taking the rows of ``data``: columns by name and coded columns as their
        values for a model with named inputs, a window's cells named by the data for a
        sequence model, unchanged for a model with one matrix input.

        Raises
        ------
        DataError
            When a column is missing or extra, or does not fit its input's type; the message
            names the column.
        """
        _refuse_several_outputs(self.output_names)
        if self.any_length:
            self.with_steps(None)  # names what is missing
        if self.slots is None:
            _refuse_codes(data.categories)
            if self.window is None or data.feature_names == self.feature_names:
                return self  # a matrix takes its columns by position
        else:
            slots = named_windows(self.slots, data.feature_names)
            column_order(slots, data.feature_names)  # names missing and extra first
            check_column_types(slots, data.feature_names, data.X, data.categories)
            same_codes = data.categories.keys() == self.categories.keys() and all(
                data.categories[c] is self.categories[c] for c in data.categories
            )
            if data.feature_names == self.feature_names and same_codes:
                return self
        return self._with(columns=data.feature_names, categories=data.categories)

    def with_steps(self, steps: int | None) -> KerasModel:
        """This model taking windows of ``steps`` (``sequence_length``): needed when its
        input takes any length, checked against the model's own length otherwise.

        Raises
        ------
        InputError
            When the model takes any length and ``steps`` is None, or another length than
            ``steps``.
        """
        if steps is None and self.any_length:
            raise InputError(
                "the model takes windows of any length (input shape (None, None, "
                f"{self.window[1] if self.window else 'F'})): give the window's steps as "
                "sequence_length (--sequence-length T, or the Param/setting sequence_length)"
            )
        if steps is None or steps == self.steps_asked:
            return self
        return self._with(steps=steps)

    def head(self, index: int) -> KerasModel:
        """The model to its output ``index`` alone (``keras.heads.head_model``)."""
        return self._with(keras_model=head_model(self.keras_model, index))

    def _with(self, **changes: Any) -> KerasModel:
        """This model's settings with ``changes`` (a model, columns, categories, steps)."""
        settings = {
            "keras_model": self.keras_model,
            "columns": self.feature_names,
            "categories": self.categories,
            "steps": self.steps_asked,
            **changes,
        }
        model = settings.pop("keras_model")
        return KerasModel(
            model, batch_rows=self.batch_rows, rank_one_updates=self.rank_one_updates, **settings
        )

    @property
    def backend(self) -> str:
        """The Keras backend the model runs on (``tensorflow``, ``jax``, ``torch``)."""
        import keras

        return str(keras.backend.backend())

    def _call(self, x: Any) -> Any:
        """The forward pass on a tensor of rows (inside the backend's compiled function)."""
        return self.keras_model(self._prepare(x), training=False)

    def predict(self, X: NDArray[np.float32]) -> NDArray[np.float64]:
        X = np.ascontiguousarray(X, dtype=np.float32)
        return stack_outputs(
            self._forward(X[i : i + self.batch_rows]) for i in range(0, X.shape[0], self.batch_rows)
        )

    @property
    def window_steps(self) -> int:
        """The steps of the model's window (its one input, or a window input beside
        per-column inputs); 0 for a model without one."""
        beside = [s.steps for s in self.slots or () if s.steps]
        return beside[0] if beside else (self.window[0] if self.window else 0)

    def variable_cells(self) -> dict[str, tuple[str, ...]]:
        """For a sequence model, each variable and its cells (``importance_tasks.windows``):
        the groups its importance is reported by. Empty for other models."""
        named = [s for s in self.slots or () if s.steps]
        if named:  # a window input beside per-column inputs: its variables by name
            (slot,) = named
            width = slot.width // slot.steps
            cells = slot.columns
            return {v: cells[f::width] for f, v in enumerate(variables_of(cells, width))}
        if self.window is None:
            return {}
        steps, n_variables = self.window
        cells = self.feature_names or cell_names([f"x{i}" for i in range(n_variables)], steps)
        variables = variables_of(cells, n_variables)
        # By position: a row holds step 0's variables, then step 1's, ... (whatever the names).
        return {
            variable: tuple(cells[t * n_variables + f] for t in range(steps))
            for f, variable in enumerate(variables)
        }

    def first_dense(self) -> FirstDense | None:
        """The model split after a first Dense layer that takes the input (after per-column
        preprocessing), for low-rank updates of copies; None where the structure does not allow
        it or ``rank_one_updates`` is off. Built once."""
        if self._first_dense is True:
            share = MIN_FIRST_LAYER_SHARE if self.rank_one_updates is None else 0.0
            self._first_dense = first_dense(self.keras_model, min_share=share)
        return self._first_dense if not isinstance(self._first_dense, bool) else None

    def gradient_space(self) -> GradientSpace | None:
        """The model split at its first differentiable tensors, for columns a gradient cannot
        reach (strings, integers, lookups); None when ``gradient`` reaches every column.
        See ``importance_tasks.keras.gradient_space``."""
        if self.slots is None:
            return None
        columns = self.feature_names or ()
        return gradient_space(self.keras_model, self.slots, columns, self._prepare, self.batch_rows)

    def gradient(self, X: NDArray[np.float32], weights: NDArray[np.float32]) -> NDArray[np.float64]:
        """Gradient of ``sum(output * weights)`` per row: shape (n_rows, n_features).

        ``weights`` of shape (n_rows, n_outputs) selects which output(s) each row's gradient
        is taken of (a one-hot row picks one class).
        """
        if self._gradient is None:
            self._gradient = self._backend.gradient_of(
                self._call, [(None, self.n_features), (None, None)]
            )
        X = np.ascontiguousarray(X, dtype=np.float32)
        W = np.ascontiguousarray(weights, dtype=np.float32)
        parts = [
            self._gradient(X[i : i + self.batch_rows], W[i : i + self.batch_rows])
            for i in range(0, X.shape[0], self.batch_rows)
        ]
        return np.concatenate(parts) if parts else np.empty((0, self.n_features))


def _refuse_codes(categories: Mapping[str, Any]) -> None:
    """A model with one matrix input takes numbers only: refuse coded columns by name."""
    if categories:
        raise DataError(
            f"columns {sorted(categories)} hold strings or categories, but the model takes one "
            "matrix of numbers; encode them (e.g. one-hot) the way the model was trained, or "
            "give the model named inputs with lookup layers"
        )


def _refuse_several_outputs(names: Sequence[str]) -> None:
    """A model with several outputs is analysed one head at a time: say so, naming them,
    before a data column named like another output is taken for an extra feature."""
    if len(names) > 1:
        raise UnsupportedModelError(
            f"the model has {len(names)} outputs {list(names)}: each is analysed against its "
            "own target column; give the targets (--target repeated or A,B; target: [A, B]) "
            "named like the outputs, or one per output in their order"
        )


def _unchanged(x: Any) -> Any:
    return x


def _windows(steps: int, n_variables: int) -> Any:
    """Rows of cells back to windows of (steps, variables), inside the compiled forward."""
    import keras

    return lambda x: keras.ops.reshape(x, (-1, steps, n_variables))


def for_data(model: Model, data: EvalData) -> Model:
    """``model`` taking the rows of ``data`` (see ``KerasModel.bind``), checked to take as
    many inputs as the data has feature columns.

    Raises
    ------
    DataError
        When ``data`` holds coded columns (strings, categories) that ``model`` cannot take, or
        another number of feature columns than the model's inputs.
    """
    if isinstance(model, KerasModel):
        model = model.bind(data)
    elif data.categories:
        raise DataError(
            f"columns {sorted(data.categories)} hold strings or categories, which this model "
            "function cannot take (it is given numbers); load the model as Keras, or encode "
            "those columns the way the model was trained"
        )
    window = getattr(model, "window", None)
    if window is not None and model.n_features != len(data.feature_names):
        steps, n_variables = window
        raise DataError(
            f"the model takes windows of {steps} steps x {n_variables} variables, but the data "
            f"has {len(data.feature_names)} feature columns; give the windows as a .npz file "
            f"with X of shape (windows, {steps}, {n_variables}) and y, or a long table with "
            f"{n_variables} variables (name them with feature_names; time_column and "
            "series_column are not variables)"
        )
    if model.n_features != len(data.feature_names):
        raise DataError(
            f"the model takes {model.n_features} inputs but the data has "
            f"{len(data.feature_names)} feature columns: {list(data.feature_names)}"
        )
    return model


def heads_of(
    model: Model, data: EvalData, targets: Sequence[str]
) -> list[tuple[Head, Model, EvalData]]:
    """The outputs ``targets`` ask for, each as a model of its own bound to the data with its
    target column (``data.y`` holds one column per target, in order). A model with one output
    is one head, its data unchanged: several targets of one output are its columns.

    Raises
    ------
    DataError
        When the targets match no outputs (``keras.heads.match_heads``).
    """
    names = getattr(model, "output_names", ())
    if not isinstance(model, KerasModel) or len(names) < 2:
        return [(Head(",".join(targets), 0, ",".join(targets)), for_data(model, data), data)]
    found = []
    for i, head in enumerate(match_heads(names, targets)):
        one = data.for_target(i) if len(targets) > 1 else data
        found.append((head, for_data(model.head(head.index), one), one))
    return found


def first_dense_of(model: Model) -> FirstDense | None:
    """``model``'s first Dense layer for low-rank updates (``KerasModel.first_dense``), if any."""
    return model.first_dense() if isinstance(model, KerasModel) else None
