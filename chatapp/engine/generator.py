"""The token loop: prompt → KV cache → sample with observed stages → stream events.

Runs inside the model process, on the thread that owns the LoadedModel.
"""

from __future__ import annotations

import base64
import codecs
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import llama_cpp
import numpy as np

from chatapp.core.context_fit import ContextFit, ContextOverflowError, fit_messages
from chatapp.core.sampling import STAGES, SamplingSettings
from chatapp.engine import protocol
from chatapp.engine.probes import ProbeSet, StageSnapshot
from chatapp.engine.runtime import LoadedModel

# The records codec is pure Python and numpy (columns, zlib): nothing in it opens a database.
# The model process encodes a reply's records with it so that the app can store them as they
# are (see `Generator.records_fields`).  Importing it imports the storage package too (its
# modules, not a connection): about 4 MiB and 60 ms at the model process's start, where a
# broken installation is reported at once, rather than after the first reply.
from chatapp.storage import records as record_codec

Emit = Callable[[dict[str, Any]], None]

#: Token-event keys that are transport, not record (the records blob leaves them out).
_TRANSPORT_KEYS = frozenset({"type", "id"})
#: Room kept in a `done` line for everything but the records blob (its other fields are a few
#: hundred bytes; the reply's text is counted on top, at its longest JSON form).
_DONE_ROOM = 64 * 1024


class GenerationError(Exception):
    """Generation could not start or continue; str() names the cause."""


@dataclass(frozen=True)
class GenerateRequest:
    """One reply to generate.

    Attributes:
        messages: the conversation, [{"role": ..., "content": ...}, ...].
        sampling: sampler settings.
        records: send per-token stage records (the panel's data).
        top_n: candidates kept per stage in the records.
        continue_reply: the last message is a reply to make longer: the prompt is the
            conversation before it with the generation prompt, followed by its text verbatim,
            and the reply streamed is only what comes after that text.
    """

    messages: Sequence[dict[str, Any]]
    sampling: SamplingSettings
    records: bool = True
    top_n: int = 20
    continue_reply: bool = False

    def __post_init__(self) -> None:
        """Refuse a continuation that has nothing to continue (ValueError: a bad request)."""
        if not isinstance(self.continue_reply, bool):
            raise ValueError("continue_reply must be true or false")
        if self.continue_reply:
            last = self.messages[-1] if self.messages else None
            if last is None or last.get("role") != "assistant":
                raise ValueError("continue_reply needs the last message to be the assistant's "
                                 "reply to continue")
            if not isinstance(last.get("content"), str):
                raise ValueError("the reply to continue must have text content")


class SamplerChain:
    """llama.cpp's sampler chain for one generation, with probes between stages when recording.

    Attributes:
        seed: the seed of the draw (chosen at random when the settings leave it open).
        stage_names: names of the stages the probes observe, in order.
    """

    def __init__(self, model: LoadedModel, s: SamplingSettings, probes: ProbeSet | None) -> None:
        """Build penalties → top-k → top-p → min-p → temperature → draw (greedy at T=0)."""
        self.seed = s.seed if s.seed is not None else random.SystemRandom().randrange(2**32 - 1)
        params = llama_cpp.llama_sampler_chain_default_params()
        params.no_perf = True
        self.ptr: Any = llama_cpp.llama_sampler_chain_init(params)
        self.stage_names: list[str] = []
        self.greedy = s.greedy
        penalties_on = s.penalty_last_n != 0 and (
            s.repeat_penalty != 1.0 or s.frequency_penalty != 0.0 or s.presence_penalty != 0.0
        )
        self.penalties_on = penalties_on
        steps: list[tuple[str, Any, bool]] = []  # (stage, sampler or None when off, transforms)
        last_n = model.n_ctx if s.penalty_last_n == -1 else s.penalty_last_n
        steps.append((
            "penalties",
            llama_cpp.llama_sampler_init_penalties(
                model.n_vocab, last_n, s.repeat_penalty, s.frequency_penalty, s.presence_penalty
            ) if penalties_on else None,
            True,
        ))
        if not s.greedy:
            steps += [
                ("top_k", llama_cpp.llama_sampler_init_top_k(s.top_k) if s.top_k > 0 else None,
                 False),
                ("top_p", llama_cpp.llama_sampler_init_top_p(s.top_p, 1) if s.top_p < 1 else None,
                 False),
                ("min_p", llama_cpp.llama_sampler_init_min_p(s.min_p, 1) if s.min_p > 0 else None,
                 False),
                ("temperature", llama_cpp.llama_sampler_init_temp(s.temperature)
                 if s.temperature != 1.0 else None, True),
            ]
        active = [(name, smp, tr) for name, smp, tr in steps if smp is not None]
        # The what-if candidates are taken where top-k's input is: after the penalties.
        if probes is not None:
            self._add(probes.make("raw", transforms=True, last=not active,
                                  candidates=not penalties_on))
            self.stage_names.append("raw")
        for i, (name, smp, transforms) in enumerate(active):
            self._add(smp)
            if probes is not None:
                self._add(probes.make(name, transforms=transforms, last=i == len(active) - 1,
                                      candidates=name == "penalties"))
                self.stage_names.append(name)
        self._add(
            llama_cpp.llama_sampler_init_greedy() if s.greedy
            else llama_cpp.llama_sampler_init_dist(self.seed)
        )

    def _add(self, sampler: Any) -> None:
        llama_cpp.llama_sampler_chain_add(self.ptr, sampler)

    def accept(self, token: int) -> None:
        """Feed a token the model did not draw (the prompt) to the penalties' history."""
        llama_cpp.llama_sampler_accept(self.ptr, token)

    def sample(self, ctx: Any) -> int:
        """Draw the next token from the last decoded logits (and accept it)."""
        return int(llama_cpp.llama_sampler_sample(self.ptr, ctx, -1))

    def free(self) -> None:
        """Free the chain and every sampler in it (probes included)."""
        if self.ptr is not None:
            llama_cpp.llama_sampler_free(self.ptr)
            self.ptr = None


class TextStream:
    """Bytes of token pieces → text that is safe to show: whole UTF-8 characters, stop strings cut.

    Text that could be the start of a stop string is held back until it is clear.
    """

    def __init__(self, stop: Sequence[str]) -> None:
        """`stop`: strings that end the reply; they are not shown."""
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._stop = [s for s in stop if s]
        self._longest = max((len(s) for s in self._stop), default=0)
        self.text = ""  # all decoded text
        self.shown = 0  # how much of it has been emitted
        self.stopped = False

    def feed(self, data: bytes) -> str:
        """Add a token's bytes; return the newly showable text."""
        self.text += self._decoder.decode(data)
        return self._release(final=False)

    def finish(self) -> str:
        """End of reply: flush what was held back (an incomplete character becomes U+FFFD)."""
        self.text += self._decoder.decode(b"", final=True)
        return self._release(final=True)

    def _release(self, final: bool) -> str:
        if self._stop and not self.stopped:
            start = max(0, self.shown - self._longest)
            cut = min((i for i in (self.text.find(s, start) for s in self._stop) if i >= 0),
                      default=-1)
            if cut >= 0:
                self.stopped = True
                self.text = self.text[:cut]
        end = len(self.text)
        if self._stop and not final and not self.stopped:
            end -= _partial_stop_suffix(self.text, self._stop, self._longest)
        end = max(end, self.shown)
        delta = self.text[self.shown:end]
        self.shown = end
        return delta


def _partial_stop_suffix(text: str, stops: Sequence[str], longest: int) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of a stop string."""
    for k in range(min(longest - 1, len(text)), 0, -1):
        tail = text[-k:]
        if any(s.startswith(tail) for s in stops):
            return k
    return 0


def _records_blob(records: list[dict[str, Any]], room: int) -> dict[str, Any]:
    """The `done` fields that carry a reply's records: ``records_blob`` (the records encoded by
    chatapp.storage.records, base64) and ``records_encode_ms``; when the blob would make the
    line longer than the protocol allows, or cannot be made, ``records_error`` says why in
    place of the blob (the app then stores the records it kept from the token events)."""
    start = time.perf_counter()
    try:
        blob = base64.b64encode(record_codec.encode(records)).decode("ascii")
    except record_codec.RecordsError as exc:
        return {"records_error": str(exc)}
    fields: dict[str, Any] = {"records_encode_ms": round((time.perf_counter() - start) * 1000, 2)}
    if len(blob) > room:
        fields["records_error"] = (f"the records blob ({len(blob):,} bytes) would not fit in "
                                   f"a protocol line")
    else:
        fields["records_blob"] = blob
    return fields


def _round(values: Any) -> list[float]:
    return [round(v, 6) for v in values.tolist()]


class Generator:
    """Runs GenerateRequests on a LoadedModel and streams token events through `emit`."""

    def __init__(self, model: LoadedModel) -> None:
        """Bind to the model (owned by the calling thread)."""
        self.model = model
        self._text = model.piece_text
        self._last_records: list[dict[str, Any]] | None = None

    def run(
        self, req_id: str, req: GenerateRequest, cancel: threading.Event, emit: Emit
    ) -> dict[str, Any]:
        """Generate one reply; returns the summary (also the body of the `done` event).

        Before the first token, a `context` event says what fitted into the context (the
        oldest turns of a conversation that outgrew it are left out).
        """
        t0 = time.perf_counter()
        model = self.model
        fit, tokens, reserve = self._fit(req)
        emit({
            "type": "context", "id": req_id, "prompt_tokens": len(tokens), "n_ctx": model.n_ctx,
            "reserve": reserve, "dropped_messages": fit.dropped,
        })
        reused = self._prefill(tokens, cancel)
        t_prompt = time.perf_counter()

        probes = ProbeSet(req.top_n) if req.records else None
        chain = SamplerChain(model, req.sampling, probes)
        try:
            if chain.penalties_on:
                # Like llama.cpp's server, the penalties also see the prompt's last tokens.
                last_n = req.sampling.penalty_last_n
                for tok in tokens[-last_n:] if last_n > 0 else tokens:
                    chain.accept(tok)
            summary = self._loop(req_id, req, chain, probes, cancel, emit, t0, len(tokens))
        finally:
            chain.free()
        t_end = time.perf_counter()
        n_gen = summary["generated_tokens"]
        ttft = summary.pop("_t_first", t_end) - t0
        records: list[dict[str, Any]] | None = summary.pop("_records")
        prompt_s = t_prompt - t0
        summary.update(
            prompt_tokens=len(tokens),
            cached_prompt_tokens=reused,
            dropped_messages=fit.dropped,
            time_to_first_token_ms=round(ttft * 1000, 2),
            prompt_ms=round(prompt_s * 1000, 2),
            prompt_tokens_per_s=round((len(tokens) - reused) / prompt_s, 2) if prompt_s else 0.0,
            total_ms=round((t_end - t0) * 1000, 2),
            tokens_per_s=round((n_gen - 1) / (t_end - t0 - ttft), 2)
            if n_gen > 1 and t_end - t0 > ttft else 0.0,
            seed=chain.seed,
            sampling=req.sampling.to_dict() | {"seed": chain.seed},
        )
        self._last_records = records
        return summary

    def records_fields(self, summary: dict[str, Any]) -> dict[str, Any]:
        """The `done` fields that carry the records of the reply `run` just made (see
        `_records_blob`); {} when it kept none (records off).  Call once, after `run`, when the
        reply is over: the encoding takes a while (0.1-0.2 ms a token) and must count
        neither in the reply's speed nor in its cancel latency.  The records are let go."""
        records, self._last_records = self._last_records, None
        if records is None:
            return {}
        # A JSON string is at most 6 bytes a character (\u00XX).
        room = (protocol.MAX_LINE - _DONE_ROOM
                - 6 * (len(summary.get("text", "")) + len(summary.get("tail", ""))))
        return _records_blob(records, room)

    def prompt_text(self, messages: Sequence[dict[str, Any]], continue_reply: bool) -> str:
        """The prompt for `messages`: the template's rendering with the generation prompt, or,
        to continue the last message (a reply), the rendering of the ones before it followed by
        its text as it is (the model goes on from its last character)."""
        if continue_reply:
            return self.model.template.render(messages[:-1]) + str(messages[-1]["content"])
        return self.model.template.render(messages)

    def _fit(self, req: GenerateRequest) -> tuple[ContextFit, list[int], int]:
        """Leave out the oldest turns that do not fit; returns the fit, the prompt's tokens and
        the room kept free for the reply.  Raises GenerationError when even the last message
        (and the system prompt) do not fit, TemplateError when the template fails."""
        model = self.model
        # Room for the reply: all of it when it is short, but never more than a quarter of the
        # context, or a large max_tokens would push the whole conversation out.  Replies longer
        # than the room end as "context_full" once the context is used up.
        reserve = max(1, min(req.sampling.max_tokens, model.n_ctx // 4))
        tokenized: dict[int, list[int]] = {}  # kept messages -> prompt tokens: no re-tokenizing

        def count(messages: Sequence[dict[str, Any]]) -> int:
            tokens = model.tokenize(self.prompt_text(messages, req.continue_reply))
            tokenized[len(messages)] = tokens
            return len(tokens)

        try:
            fit = fit_messages(req.messages, count, model.n_ctx, reserve,
                               keep_last=2 if req.continue_reply else 1)
        except ContextOverflowError as exc:
            raise GenerationError(str(exc)) from None
        # Kept messages are the system prompt plus a suffix, so their count names the candidate.
        return fit, tokenized[len(fit.messages)], reserve

    def _prefill(self, tokens: list[int], cancel: threading.Event) -> int:
        """Decode the prompt, reusing the KV cache's common prefix; returns tokens reused."""
        model = self.model
        cached = model.cached_tokens
        keep = 0
        limit = min(len(cached), len(tokens) - 1)  # always decode >= 1 token: we need its logits
        while keep < limit and cached[keep] == tokens[keep]:
            keep += 1
        llama_cpp.llama_memory_seq_rm(model.memory, 0, keep, -1)
        model.cached_tokens = tokens[:keep]
        # The last prompt token is decoded on its own: a batched decode gives logits that differ
        # from a single-token decode (by up to 0.4 here, Q4_1 on CPU), so without this a
        # regenerate that reuses the cache would not reproduce a fresh run with the same seed.
        n_batch = model.settings.n_batch
        body = len(tokens) - 1
        chunks = [tokens[i:min(i + n_batch, body)] for i in range(keep, body, n_batch)]
        for chunk in [*chunks, tokens[-1:]]:
            if cancel.is_set():
                break
            self._decode(chunk)
            model.cached_tokens.extend(chunk)
        return keep

    def _decode(self, chunk: list[int]) -> None:
        arr = (llama_cpp.llama_token * len(chunk))(*chunk)
        batch = llama_cpp.llama_batch_get_one(arr, len(chunk))
        rc = llama_cpp.llama_decode(self.model.ctx_ptr, batch)
        if rc == 1:
            raise GenerationError("the context is full (no room left in the KV cache)")
        if rc != 0:
            raise GenerationError(f"llama_decode failed with code {rc}")

    def _loop(
        self,
        req_id: str,
        req: GenerateRequest,
        chain: SamplerChain,
        probes: ProbeSet | None,
        cancel: threading.Event,
        emit: Emit,
        t0: float,
        n_prompt: int,
    ) -> dict[str, Any]:
        model = self.model
        stream = TextStream(req.sampling.stop)
        finish = "length"
        n_gen = 0
        t_first: float | None = None
        ctx = model.ctx_ptr
        # The reply's records, for the blob of `done` (see `records_fields`): the token
        # events' values, shared with the events, which the writer thread only reads.
        records: list[dict[str, Any]] | None = [] if probes is not None else None
        while n_gen < req.sampling.max_tokens:
            if cancel.is_set():
                finish = "cancelled"
                break
            t_s = time.perf_counter()
            token = chain.sample(ctx)
            t_sampled = time.perf_counter()
            if model.is_eog(token):
                finish = "stop"
                break
            n_gen += 1
            delta = stream.feed(model.piece(token))
            event: dict[str, Any] = {
                "type": "token", "id": req_id, "i": n_gen - 1, "token": token,
                "piece": self._text(token), "text": delta,
                "t_ms": round((t_sampled - t0) * 1000, 3),
                "sample_ms": round((t_sampled - t_s) * 1000, 3),
            }
            if probes is not None:
                event.update(self._records(probes.take(), chain, token))
            if records is not None:
                records.append({k: v for k, v in event.items() if k not in _TRANSPORT_KEYS})
            if t_first is None:
                t_first = time.perf_counter()
            emit(event)
            if stream.stopped:
                finish = "stop_string"
                break
            if len(model.cached_tokens) + 1 >= model.n_ctx:
                finish = "context_full"
                break
            if cancel.is_set():
                finish = "cancelled"
                break
            self._decode([token])
            model.cached_tokens.append(token)
        tail = stream.finish()
        return {
            "generated_tokens": n_gen,
            "finish_reason": finish,
            "text": stream.text,
            "tail": tail,
            "_t_first": t_first if t_first is not None else time.perf_counter(),
            "_records": records,
        }

    def _records(
        self, seen: list[StageSnapshot], chain: SamplerChain, token: int
    ) -> dict[str, Any]:
        """Stage records for the panel: every stage in STAGES order, off stages repeated, and
        the what-if candidates (see chatapp.engine.protocol)."""
        by_name = dict(zip(chain.stage_names, seen, strict=False))
        stages: list[dict[str, Any]] = []
        prev: StageSnapshot | None = None
        for name in STAGES:
            snap = by_name.get(name)
            if snap is None and chain.greedy and name == "temperature" and prev is not None:
                # Temperature 0: only the arg-max survives, with probability 1.
                snap = StageSnapshot(name, 1, prev.ids[:1], np.ones(1, np.float32))
            active = snap is not None
            snap = snap or prev
            if snap is None:
                continue
            stages.append({
                "name": name, "active": active, "survivors": snap.survivors,
                "top": [[int(t), self._text(int(t)), p]
                        for t, p in zip(snap.ids.tolist(), _round(snap.probs), strict=True)],
            })
            prev = snap
        last = by_name.get(chain.stage_names[-1]) if chain.stage_names else None
        rank, p = last.rank_of(token) if last is not None else (-1, 0.0)
        if chain.greedy:
            rank, p = 0, 1.0
        raw_rank, raw_p = seen[0].rank_of(token) if seen else (-1, 0.0)
        out: dict[str, Any] = {
            "stages": stages, "chosen_rank": rank, "chosen_p": round(p, 6),
            "raw_rank": raw_rank, "raw_p": round(raw_p, 6),
        }
        source = next((snap for snap in seen if snap.cand_ids is not None), None)
        if source is not None and source.cand_ids is not None and source.cand_logits is not None:
            # float32 -> Python float is exact: the JSON number is the float32 logit itself.
            out["candidates"] = [list(pair) for pair in zip(
                source.cand_ids.tolist(), source.cand_logits.tolist(), strict=True)]
            out["candidates_lse"] = source.lse
        return out
