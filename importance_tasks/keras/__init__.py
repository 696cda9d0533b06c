"""The Keras adapter: a Keras model as the methods see it, loaded safely.

``KerasModel`` traces the forward pass once and feeds it large batches (``keras_model``); how a
model's inputs take the data's columns (``model_inputs``); low-rank updates through a first
Dense layer (``first_layer``); where gradients start (``gradient_space``); building on a
model's intermediate tensors (``graph``); loading ``.keras`` files without running code from
them (``safe_load``). TensorFlow and Keras load only when a model is used.
"""

from importance_tasks.keras.keras_model import KerasModel, for_data
from importance_tasks.keras.safe_load import load_keras_file

__all__ = ["KerasModel", "for_data", "load_keras_file"]
