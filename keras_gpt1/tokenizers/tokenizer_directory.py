"""A tokenizer saved as files in a directory, found again by class name."""

from keras_gpt1.errors import GPT1InputError

TOKENIZER_CLASSES = ("GPT1Tokenizer", "OpenAIGPTTokenizer")


def load_tokenizer(directory, class_name):
    """`class_name`'s tokenizer (one of `TOKENIZER_CLASSES`) from the files
    its `save_to_directory` wrote into `directory`."""
    from keras_gpt1 import tokenizers

    if class_name not in TOKENIZER_CLASSES:
        raise GPT1InputError(
            f"unknown tokenizer class '{class_name}'; expected one of "
            f"{', '.join(TOKENIZER_CLASSES)}")
    return getattr(tokenizers, class_name).from_directory(directory)


def find_tokenizer(directory):
    """The tokenizer whose files are in `directory` (a tokenizer directory, a
    model directory from `pretrain`/`convert`/`finetune`, or a Hugging Face
    openai-gpt directory), or `GPT1InputError`."""
    import os

    from keras_gpt1.tokenizers.gpt1_tokenizer import MERGES_FILE
    from keras_gpt1.tokenizers.gpt1_tokenizer import VOCABULARY_FILE
    from keras_gpt1.tokenizers.openai_gpt_tokenizer import find_tokenizer_files

    if not os.path.isdir(directory):
        raise GPT1InputError(f"tokenizer directory not found: {directory}")
    if all(os.path.isfile(os.path.join(directory, name))
           for name in (VOCABULARY_FILE, MERGES_FILE)):
        return load_tokenizer(directory, "GPT1Tokenizer")
    if find_tokenizer_files(directory) is not None:
        return load_tokenizer(directory, "OpenAIGPTTokenizer")
    raise GPT1InputError(
        f"{directory} holds no tokenizer files ({VOCABULARY_FILE} + {MERGES_FILE}, or "
        "GPT-1's vocab.json + merges.txt)")
