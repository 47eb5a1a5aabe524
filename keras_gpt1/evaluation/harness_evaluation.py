"""lm-evaluation-harness tasks on a keras-gpt1 model, with bad input
reported in one line: what `keras-gpt1 evaluate-lm` runs.

`evaluate_tasks` finds the tasks (the harness's own, and YAML files under
`include_path`), loads them, then runs `lm_eval.simple_evaluate` with a
`KerasGPT1LM`. Everything a user can get wrong before the model runs is a
`GPT1InputError` naming it: the harness not installed, a YAML file under
`include_path` that does not parse, an unknown task, a task whose data or
config cannot be loaded, a bad `limit`, a path that is not a model.
"""

import json
import os

from keras_gpt1.errors import GPT1InputError
from keras_gpt1.errors import first_line

# lm-evaluation-harness's default number of bootstrap resamples for the
# standard errors of metrics without a closed form (perplexities).
DEFAULT_BOOTSTRAP_ITERS = 100000
INSTALL_HINT = "pip install keras-gpt1[eval]"


def require_lm_eval():
    """`GPT1InputError` saying how to install the harness when it is not."""
    try:
        import lm_eval.api.model  # noqa: F401
    except ImportError as e:
        if not (e.name or "").startswith("lm_eval"):
            raise
        raise GPT1InputError(
            f"lm-evaluation-harness (lm-eval) is not installed: {INSTALL_HINT}"
        ) from None


def check_task_files(include_path):
    """`GPT1InputError` naming the first `*.yaml` under `include_path` that
    is not a YAML mapping (the harness itself skips such a file without a
    word, and then reports its task as unknown)."""
    import yaml

    class TaskFileLoader(yaml.SafeLoader):
        """YAML with the harness's tags (`!function module.name`) left
        unresolved."""

    TaskFileLoader.add_multi_constructor("!", lambda loader, suffix, node: None)
    if not os.path.isdir(include_path):
        raise GPT1InputError(f"task directory not found: {include_path}")
    for root, _, files in sorted(os.walk(include_path)):
        for name in sorted(files):
            if not name.endswith(".yaml"):
                continue
            path = os.path.join(root, name)
            try:
                with open(path, encoding="utf-8") as f:
                    config = yaml.load(f, Loader=TaskFileLoader)  # noqa: S506
            except (yaml.YAMLError, UnicodeDecodeError) as e:
                raise GPT1InputError(
                    f"{path} is not a valid task file: {' '.join(str(e).split())}"
                ) from None
            if not isinstance(config, dict):
                raise GPT1InputError(
                    f"{path} is not a valid task file: a YAML mapping expected, "
                    f"got {type(config).__name__}"
                )


def load_tasks(names, include_path=None):
    """`(task manager, the harness's Task / Group objects of names)`;
    `GPT1InputError` for an unknown name or a task that cannot be loaded
    (its data, its config).

    Tasks all found under `include_path` are loaded from there alone:
    indexing the harness's own 200-odd task folders takes seconds. A task
    there that needs one of the harness's (a group of them) loads with
    both, as any other name does.
    """
    from lm_eval.tasks import TaskManager

    if include_path is not None:
        local = TaskManager(include_path=include_path, include_defaults=False)
        if all(name in local.all_tasks for name in names):
            try:
                return local, _load(local, names, include_path)
            except KeyError:
                pass
    task_manager = TaskManager(include_path=include_path)
    try:
        return task_manager, _load(task_manager, names, include_path)
    except KeyError as e:
        where = f" nor under {include_path}" if include_path else ""
        raise GPT1InputError(
            f"unknown task '{e.args[0]}': not one of the harness's tasks{where} "
            "(lm-eval ls tasks lists them)"
        ) from None


def _load(task_manager, names, include_path):
    loaded = []
    for name in names:
        try:
            found = task_manager.load([name])
        except KeyError:
            raise KeyError(name) from None
        except Exception as e:  # the harness raises many kinds
            raise GPT1InputError(f"task '{name}' could not be loaded: {first_line(e)}") \
                from None
        if name in found["groups"]:
            loaded.append(found["groups"][name])
        else:
            loaded.extend(found["tasks"].values())  # a task, or a tag's tasks
    return loaded


def check_limit(limit):
    if limit is None:
        return None
    if isinstance(limit, float) and 0 < limit < 1:
        return limit  # a fraction of each task, as in the harness
    if not float(limit).is_integer() or limit < 1:
        raise GPT1InputError(
            f"limit must be a whole number of examples >= 1 (or a fraction in "
            f"(0, 1)); got {limit}"
        )
    return int(limit)


def evaluate_tasks(model, tasks, include_path=None, limit=None, num_fewshot=None,
                   batch_size=8, max_length=None, prefix_token_id=None,
                   bootstrap_iters=DEFAULT_BOOTSTRAP_ITERS, log_samples=False):
    """Run lm-evaluation-harness `tasks` (names) on `model` (a path, or
    anything `load_causal_lm` takes); returns `simple_evaluate`'s dict
    (`json_results` makes it JSON, `results_table` a table).

    Checks in the order of their cost: the arguments and task files, the
    model, then the tasks (whose data may have to download).
    """
    require_lm_eval()
    import lm_eval

    from keras_gpt1.evaluation.lm_eval_model import KerasGPT1LM

    names = [t for t in (tasks.split(",") if isinstance(tasks, str) else tasks) if t]
    if not names:
        raise GPT1InputError("no task given")
    limit = check_limit(limit)
    if include_path is not None:
        check_task_files(include_path)
    lm = KerasGPT1LM(model=model, batch_size=batch_size, max_length=max_length,
                     prefix_token_id=prefix_token_id)
    task_manager, loaded = load_tasks(names, include_path)
    return lm_eval.simple_evaluate(
        model=lm, tasks=loaded, task_manager=task_manager, limit=limit,
        num_fewshot=num_fewshot, bootstrap_iters=bootstrap_iters,
        log_samples=log_samples)


def json_results(results):
    """`simple_evaluate`'s dict as plain JSON values, less the per-example
    `samples` and the machine's `pretty_env_info`."""
    from lm_eval.utils import handle_non_serializable

    kept = {k: v for k, v in results.items() if k not in ("samples", "pretty_env_info")}
    return json.loads(json.dumps(kept, default=handle_non_serializable))


def results_table(results):
    """The harness's Markdown table(s) of `results` (tasks, then groups)."""
    from lm_eval.utils import make_table

    table = make_table(results)
    if results.get("groups"):
        table += "\n" + make_table(results, "groups")
    return table
