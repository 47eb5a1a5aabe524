"""Continuations that stop at strings: the model's compiled `generate`
(KV cache) in rounds of `GENERATION_ROUND` tokens, each row checked for
its stop strings after every round.

A compiled decoding loop can stop at a token id, not at a string such as
"\\n\\n" that many tokens can spell. Decoding a whole `max_gen_toks`
(256 by default in lm-evaluation-harness) for every row would waste most
of the work, so rows that have produced a stop string, the end token or
`max_new_tokens` tokens leave after each round and the others go on from
where they stopped. Greedy decoding gives the same tokens whatever the
round length. Batches are padded to the lengths of `token_scorer` (a few
compiled shapes).

Ids become text as Hugging Face decodes generated ids
(`skip_special_tokens=True`, `text_decoder`), so that the harness's `hf`
model and this one return the same strings for the same ids.
"""

import logging

import numpy as np

from keras_gpt1.evaluation.token_scorer import padded_length
from keras_gpt1.evaluation.token_scorer import padded_rows
from keras_gpt1.models.gpt1_backbone import PADDING_MASK
from keras_gpt1.models.gpt1_backbone import TOKEN_IDS
from keras_gpt1.token_ids import detokenize_text

# New tokens per row per call of `generate` before stop strings are checked.
GENERATION_ROUND = 32
# Generation arguments of lm-evaluation-harness that choose the sampler.
SAMPLING_ARGUMENTS = ("do_sample", "temperature", "top_k", "top_p")

logger = logging.getLogger(__name__)


def generation_sampler(sampling):
    """A keras-hub sampler for the harness's generation arguments: greedy
    unless `do_sample` (then top-k, top-p or plain sampling at
    `temperature`)."""
    import keras_hub

    from keras_gpt1.models.gpt1_causal_lm import resolve_sampler

    sampling = dict(sampling or {})
    ignored = sorted(set(sampling) - set(SAMPLING_ARGUMENTS))
    if ignored:
        logger.warning("keras-gpt1 ignores the generation arguments %s", ignored)
    temperature = float(sampling.get("temperature") or 0.0)
    if not sampling.get("do_sample") or temperature == 0.0:
        return resolve_sampler("greedy")
    if sampling.get("top_k"):
        return resolve_sampler("top_k", temperature, top_k=int(sampling["top_k"]))
    if sampling.get("top_p"):
        return resolve_sampler("top_p", temperature, top_p=float(sampling["top_p"]))
    return keras_hub.samplers.RandomSampler(temperature=temperature)


def text_decoder(tokenizer):
    """`ids -> text` as Hugging Face's tokenizer of an exported model
    decodes generated ids: special tokens dropped, the bytes of an
    incomplete UTF-8 character shown as U+FFFD (the in-graph
    `detokenize` keeps special tokens and drops such bytes)."""
    from keras_gpt1.tokenizers.hf_tokenizer_json import hf_tokenizer

    try:
        hf = hf_tokenizer(tokenizer)
    except TypeError:  # neither of this project's tokenizers
        return lambda ids: detokenize_text(tokenizer, ids)
    return lambda ids: hf.decode([int(i) for i in ids], skip_special_tokens=True)


def generate_continuations(lm, prompts, max_new_tokens, stops, batch_size,
                           stop_token_id=None, sampling=None, on_batch=None,
                           decode=None):
    """The text of each prompt's continuation.

    Args:
        lm: a `GPT1CausalLM` with a tokenizer.
        prompts: lists of ids, none empty, each with room for
            `max_new_tokens` more in the model's context.
        max_new_tokens: the most tokens a continuation gets.
        stops: strings; a row stops once its text holds one (the caller
            cuts the text there).
        batch_size: rows per call of `generate`.
        stop_token_id: an id a row stops at (not part of its text).
        sampling: the harness's generation arguments (`generation_sampler`).
        on_batch: called with the number of prompts done after each batch.
        decode: `ids -> text` (default `text_decoder(lm.tokenizer)`).
    """
    sampler = generation_sampler(sampling)
    decode = decode or text_decoder(lm.tokenizer)
    order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
    texts = [None] * len(prompts)
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        continuations = _generate_batch(
            lm, [prompts[i] for i in batch], max_new_tokens, [s for s in stops if s],
            batch_size, stop_token_id, sampler, decode)
        for i, ids in zip(batch, continuations):
            texts[i] = decode(ids)
        if on_batch is not None:
            on_batch(len(batch))
    return texts


def _generate_batch(lm, prompts, max_new_tokens, stops, batch_size, stop_token_id,
                    sampler, decode):
    """The new ids of each of `prompts` (module docstring)."""
    context = lm.backbone.max_sequence_length
    vocabulary_size = lm.backbone.vocabulary_size
    stop_ids = None if stop_token_id is None or stop_token_id >= vocabulary_size \
        else (int(stop_token_id),)
    new = [[] for _ in prompts]
    active = list(range(len(prompts)))
    while active:
        rows = [list(prompts[i]) + new[i] for i in active]
        step = min(GENERATION_ROUND, max(max_new_tokens - len(new[i]) for i in active))
        total = padded_length(max(len(row) for row in rows) + step, context)
        # Filler rows repeat the shortest real one: the loop starts at the
        # shortest prompt of the batch.
        padded = rows + [rows[-1]] * (padded_rows(len(rows), batch_size) - len(rows))
        token_ids = np.zeros((len(padded), total), "int32")
        padding_mask = np.zeros((len(padded), total), "int32")
        for r, row in enumerate(padded):
            token_ids[r, :len(row)] = row
            padding_mask[r, :len(row)] = 1
        output = lm.generate({TOKEN_IDS: token_ids, PADDING_MASK: padding_mask},
                             stop_token_ids=stop_ids, sampler=sampler)
        still = []
        for r, i in enumerate(active):
            produced = output[TOKEN_IDS][r, len(rows[r]):]
            produced = [int(t) for t in produced[:max_new_tokens - len(new[i])]]
            ended = stop_ids is not None and stop_ids[0] in produced
            if ended:
                produced = produced[:produced.index(stop_ids[0])]
            new[i].extend(produced)
            if ended or not produced or len(new[i]) >= max_new_tokens:
                continue
            text = decode(new[i])
            if not any(stop in text for stop in stops):
                still.append(i)
        active = still
    return new
