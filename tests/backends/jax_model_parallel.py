"""One `fit` step of GPT-1 sharded with `keras.distribution.ModelParallel`
over 2 virtual CPU devices (the layout of `GPT1Backbone.get_layout_map`)
against the same step on one device. Run by `test_backends.py` in its own
process: the backend and the device count are fixed at import. Prints one
JSON line."""

import json
import os

os.environ["KERAS_BACKEND"] = "jax"
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"

import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_gpt1 import GPT1Backbone  # noqa: E402
from keras_gpt1 import GPT1CausalLM  # noqa: E402

CONFIG = dict(vocabulary_size=64, num_layers=2, num_heads=2, hidden_dim=16,
              intermediate_dim=64, max_sequence_length=12, dropout=0.0)


def build():
    keras.utils.set_random_seed(0)
    lm = GPT1CausalLM(GPT1Backbone(**CONFIG))
    # Plain SGD: a wrongly scaled gradient moves the weights differently.
    lm.compile(optimizer=keras.optimizers.SGD(0.5))
    return lm


def one_step(distribution=None):
    if distribution is None:
        lm = build()
    else:
        with distribution.scope():
            lm = build()
    tokens = np.random.default_rng(1).integers(0, CONFIG["vocabulary_size"], (4, 12))
    tokens = tokens.astype("int32")
    lm.fit(tokens[:, :-1], tokens[:, 1:], batch_size=4, epochs=1, verbose=0)
    return lm


def main():
    devices = keras.distribution.list_devices()
    mesh = keras.distribution.DeviceMesh((1, 2), ["batch", "model"], devices=devices)
    layout_map = GPT1Backbone.get_layout_map(mesh)
    sharded = one_step(keras.distribution.ModelParallel(layout_map=layout_map,
                                                       batch_dim_name="batch"))
    single = one_step()
    kernel = sharded.backbone.transformer_layers[0].attn.c_attn.kernel
    differences = [float(np.abs(np.asarray(a) - np.asarray(b)).max())
                   for a, b in zip(sharded.weights, single.weights)]
    moved = max(float(np.abs(np.asarray(a) - np.asarray(b)).max())
                for a, b in zip(single.weights, build().weights))
    print(json.dumps({
        "devices": len(jax.devices()),
        "c_attn_kernel_sharding": str(kernel.value.sharding.spec),
        "max_weight_difference": max(differences),
        "largest_step": moved,
    }))


if __name__ == "__main__":
    main()
