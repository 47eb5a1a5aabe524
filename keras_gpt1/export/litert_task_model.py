"""Run a LiteRT task bundle from Python: tokenize and transform the texts
(the same in-graph transformations as training), then run the `.tflite`.

Example:
```python
model = LiteRTTaskModel("sst2-litert/model.tflite")
model.predict([["a gripping film", "dull"]])  # probabilities (2, 2)
```
"""

import numpy as np
import tensorflow as tf

from keras_gpt1.data.task_transforms import MULTIPLE_CHOICE
from keras_gpt1.data.task_transforms import task_inputs
from keras_gpt1.errors import GPT1InputError
from keras_gpt1.export.litert_bundle import load_bundle_tokenizer
from keras_gpt1.export.litert_bundle import read_bundle_config
from keras_gpt1.export.litert_interpreter import make_interpreter
from keras_gpt1.export.task_litert_module import SIGNATURE


class LiteRTTaskModel:
    """A `.tflite` task model with its tokenizer and config beside it."""

    def __init__(self, tflite_path, num_threads=None):
        config = read_bundle_config(tflite_path)
        if "label_kind" not in config:
            raise GPT1InputError(f"{tflite_path} is not a fine-tuned task model")
        self.config = config
        self.task = config["task"]
        self.label_names = config.get("label_names")
        self.tokenizer = load_bundle_tokenizer(tflite_path, config)
        self.interpreter = make_interpreter(tflite_path, num_threads)
        self._run = self.interpreter.get_signature_runner(SIGNATURE)

    def inputs(self, texts, answers=None):
        """`texts`: one list of strings per text input of the task;
        `answers`: multiple choice, `(batch, num_choices)` strings. Returns
        the int32 `token_ids` / `padding_mask` arrays the `.tflite` reads."""
        if len(texts) != len(self.config["text_inputs"]):
            raise GPT1InputError(
                f"task '{self.task}' reads {len(self.config['text_inputs'])} "
                f"texts ({', '.join(self.config['text_inputs'])}); got {len(texts)}"
            )
        if self.task == MULTIPLE_CHOICE and answers is None:
            raise GPT1InputError("multiple choice needs answers")
        inputs = task_inputs(
            self.task,
            [tf.constant(list(t), tf.string) for t in texts],
            self.tokenizer,
            self.config["max_length"],
            None if answers is None else tf.constant(answers, tf.string),
        )
        return {k: np.asarray(v, "int32") for k, v in inputs.items()}

    def run(self, texts, answers=None):
        """The `.tflite`'s outputs (`logits`, `probabilities` or `score`)."""
        return self._run(**self.inputs(texts, answers))
