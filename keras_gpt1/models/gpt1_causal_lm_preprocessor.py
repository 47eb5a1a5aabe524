"""Raw strings -> `GPT1CausalLM` inputs, inside `tf.data` (keras-hub's
`CausalLMPreprocessor`), for `fit` / `evaluate` / `generate` on text."""

import keras
from keras_hub.models import CausalLMPreprocessor

from keras_gpt1.models.gpt1_backbone import GPT1Backbone
from keras_gpt1.tokenizers.gpt1_tokenizer import GPT1Tokenizer

# keras-hub's `Tokenizer.from_preset` finds a preset's tokenizer class by
# the backbone it serves; both of this project's tokenizers serve GPT-1
# (GPT-1's own, built of TensorFlow Text ops, where TensorFlow is).
GPT1Tokenizer.backbone_cls = GPT1Backbone
try:
    from keras_gpt1.tokenizers.openai_gpt_tokenizer import OpenAIGPTTokenizer

    OpenAIGPTTokenizer.backbone_cls = GPT1Backbone
except ImportError as error:
    if error.name not in ("tensorflow", "tensorflow_text"):
        raise


@keras.saving.register_keras_serializable(package="keras_gpt1")
class GPT1CausalLMPreprocessor(CausalLMPreprocessor):
    """Tokenize, pack to `sequence_length`, and shift by one token.

    `fit` (and `evaluate`) input: strings -> `x = {"token_ids",
    "padding_mask"}` `(batch, sequence_length)`, `y` the next tokens and
    `sample_weight` the mask of real targets. `generate`: strings ->
    right-padded `x`.

    GPT-1 was pre-trained on running text with no start token, so none is
    added (`add_start_token=False`; keras-hub's base class would add one
    to `generate`'s prompts regardless), and each text ends with the end
    token (`<|endoftext|>` for `GPT1Tokenizer`), which `generate` stops at.

    Works with either tokenizer of this project (`GPT1Tokenizer`, or
    `OpenAIGPTTokenizer` for OpenAI's weights).

    Example:
    ```python
    preprocessor = GPT1CausalLMPreprocessor(tokenizer, sequence_length=128)
    x, y, sample_weight = preprocessor(["The cat sat on the mat."])
    ```
    """

    backbone_cls = GPT1Backbone
    tokenizer_cls = GPT1Tokenizer

    def __init__(self, tokenizer, sequence_length=512, add_start_token=False,
                 add_end_token=True, **kwargs):
        super().__init__(
            tokenizer,
            sequence_length=sequence_length,
            add_start_token=add_start_token,
            add_end_token=add_end_token,
            **kwargs,
        )

    def build(self, input_shape):
        super().build(input_shape)
        if not self.add_start_token:
            # `generate_preprocess` packs without asking about the start
            # token; with no start value there is none to add.
            self.packer.start_value = None
