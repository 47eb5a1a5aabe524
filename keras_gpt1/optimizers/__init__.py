"""The paper's optimizer (Adam with decoupled weight decay on weight
matrices, global-norm clipping) and learning-rate schedules. Below
`models/`, so that the models' `compile()` defaults are the paper's."""

from keras_gpt1.optimizers.gpt1_adamw import GPT1AdamW
from keras_gpt1.optimizers.gpt1_adamw import decay_exempt_variables
from keras_gpt1.optimizers.gpt1_adamw import finetuning_optimizer
from keras_gpt1.optimizers.gpt1_adamw import make_optimizer
from keras_gpt1.optimizers.gpt1_adamw import pretraining_optimizer
from keras_gpt1.optimizers.learning_rate_schedules import ScheduleLengthFromFit
from keras_gpt1.optimizers.learning_rate_schedules import WarmupDecay
from keras_gpt1.optimizers.learning_rate_schedules import WarmupLinearDecay
from keras_gpt1.optimizers.learning_rate_schedules import warmup_cosine_schedule
from keras_gpt1.optimizers.learning_rate_schedules import with_schedule_length

__all__ = [
    "GPT1AdamW",
    "ScheduleLengthFromFit",
    "WarmupDecay",
    "WarmupLinearDecay",
    "decay_exempt_variables",
    "finetuning_optimizer",
    "make_optimizer",
    "pretraining_optimizer",
    "warmup_cosine_schedule",
    "with_schedule_length",
]
