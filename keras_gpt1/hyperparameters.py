"""The paper's hyperparameters (§4.1 and the original `train.py`), in one
place: models use them as `compile` defaults, training as flag defaults."""

# Model.
DROPOUT = 0.1  # embedding, residual and attention dropout
INITIALIZER_STDDEV = 0.02  # "weights initialized from N(0, 0.02)"
LAYER_NORM_EPSILON = 1e-5

# Unsupervised pre-training.
PRETRAIN_LEARNING_RATE = 2.5e-4
PRETRAIN_WARMUP_STEPS = 2000
WEIGHT_DECAY = 0.01  # decoupled, on weight matrices only
GLOBAL_CLIPNORM = 1.0

# Supervised fine-tuning.
FINETUNE_LEARNING_RATE = 6.25e-5
FINETUNE_BATCH_SIZE = 32
FINETUNE_EPOCHS = 3
FINETUNE_WARMUP_FRACTION = 0.002  # "warmup over 0.2% of training"
CLASSIFIER_DROPOUT = 0.1
LM_LOSS_WEIGHT = 0.5  # λ of the auxiliary LM loss
