"""`keras-gpt1 pretrain ARGS...` that pauses in the middle of writing
checkpoint EPOCH (its weights written, the rest not, nothing renamed) after
creating MARKER, so that a test can SIGKILL it while the checkpoint is
being written.

    python pretrain_pausing_in_a_checkpoint.py MARKER EPOCH pretrain ARGS...
"""

import os
import re
import sys
import time


def main():
    marker, epoch, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3:]

    from keras_gpt1.training import checkpoints

    save_seed_states = checkpoints.save_seed_states

    def pausing(model, path):
        directory = os.path.basename(os.path.dirname(path))
        if re.match(rf"\.?epoch-{epoch}(\.|$)", directory):  # EPOCH's, hidden or not
            with open(marker, "w") as f:
                f.write(path)
            time.sleep(600)
        return save_seed_states(model, path)

    checkpoints.save_seed_states = pausing
    from keras_gpt1.cli.main import main as cli

    sys.exit(cli(argv))


if __name__ == "__main__":
    main()
