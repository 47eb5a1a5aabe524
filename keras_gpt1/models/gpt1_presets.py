"""Architecture presets: name -> `GPT1Backbone` config (random weights)."""

GPT1_PRESETS = {
    # The paper's model: 12 layers, 768 wide, 12 heads, 3072 MLP, 512
    # context, 40,478 BPE tokens. 116,534,784 parameters.
    "gpt1": {
        "vocabulary_size": 40478,
        "num_layers": 12,
        "num_heads": 12,
        "hidden_dim": 768,
        "intermediate_dim": 3072,
        "max_sequence_length": 512,
        "dropout": 0.1,
    },
    # Same shape of model, sized for CPU demos and tests: 5,239,808
    # parameters with an 8,000-token vocabulary.
    "tiny": {
        "vocabulary_size": 8000,
        "num_layers": 4,
        "num_heads": 4,
        "hidden_dim": 256,
        "intermediate_dim": 1024,
        "max_sequence_length": 128,
        "dropout": 0.1,
    },
}
